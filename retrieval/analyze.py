"""Turning text into terms: jieba words for Chinese, stemmed words for English.

BM25, the hashing embeddings and the relevance gate all read text through here, so a
question and the statement are always cut the same way."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

import jieba
import Stemmer

from retrieval.text import HAN_RUN

_LATIN_OR_NUMBER = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?|\d+(?:[/.]\d+)*")
_SEGMENT = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([A-Za-z0-9'’/.]+)")

# Words that say nothing about the topic of a question or a paragraph.
ZH_STOP = frozenset(
    "的 了 是 在 和 与 及 或 对 为 以 其 之 于 把 被 这 那 这些 那些 此 该 也 都 又 还 就 并 "
    "而 等 中 上 下 将 已 所 从 向 由 什么 哪 哪些 哪个 哪一天 哪里 怎么 怎样 如何 为什么 "
    "吗 呢 吧 啊 请问 请 说 讲 讲了 说了 有 没有 什么样 是否 多少 几 谁 能 会 可以 "
    "本 集团 本集团 一 个 我 你 我们 你们 他们 它 它们 关于 看法 内容 立场 持 方面 问题 声明 本声明 "
    "一下 告诉 介绍 解释 做 做了 认为 最后 最终 看待 提到 谈到 涉及 主要 哪个 哪方面 一些 "
    "具体 当时 之间 关系 作用 意义 意思 表示 指出 采取 总结 概括 概述 简述 "
    "要点 重点 主题 观点 态度 提出 要求 希望 为何 何 有何 如何 "
    "被 给 让 呀 么 需要".split()
)
EN_STOP = frozenset(
    "a an the and or of to in on at by for with from as is are was were be been being "
    "this that these those it its their they them there here what which who whom whose "
    "when where why how does do did done say says said about into than then so such "
    "can could would should will shall may might must not no nor but if also any all "
    "me my we our you your i tell explain please statement text document paragraph "
    "group g-21 g21 according has have had see view views think thought relationship "
    "between role mean means meaning mention mentions mentioned regard regarding stance "
    "position positions opinion summary summarize summarise main point points key "
    "describe explain anything something whole overall kind type ways much many "
    "give get make made want wants like just really very more most other some "
    "whether was were why how one ones us".split()
)

# The submitter's name is in nearly every question and many paragraphs: pure noise.
_SUBMITTER = re.compile(r"\bG-?21\b|\bGroup of 21\b|21\s*国集团|二十一国集团", re.IGNORECASE)

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    """A private jieba tokenizer with the domain dictionary (loaded once, lazily)."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    with resources.as_file(resources.files("retrieval") / "dict" / "domain.txt") as path:
        tokenizer.load_userdict(str(path))
    return tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first question."""
    _jieba()


def zh_terms(run: str) -> list[str]:
    words = _jieba().lcut_for_search(run)
    return [w for w in words if w.strip() and w not in ZH_STOP]


def en_terms(run: str) -> list[str]:
    words = [w.lower().replace("’", "'") for w in _LATIN_OR_NUMBER.findall(run)]
    words = [w.removesuffix("'s") for w in words if w not in EN_STOP]
    return [w if w[0].isdigit() else _STEMMER.stemWord(w) for w in words if w]


def terms(text: str) -> list[str]:
    """Index terms of mixed Chinese/English text, in order."""
    out: list[str] = []
    for match in _SEGMENT.finditer(_SUBMITTER.sub(" ", text)):
        han, latin = match.groups()
        if han:
            out.extend(zh_terms(han))
        elif latin:
            out.extend(en_terms(latin))
    return out


def han_bigrams(text: str) -> list[str]:
    """Overlapping Chinese character bigrams (robust to segmentation differences)."""
    grams: list[str] = []
    for run in HAN_RUN.findall(text):
        grams.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return grams

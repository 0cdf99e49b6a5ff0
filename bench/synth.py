"""Deterministic synthetic corpora for the scale runs: statement files and a manifest.

Sentences are assembled (seeded random, word frequencies as in the statement) from the
vocabulary of the shipped statement: Chinese sentences from its Chinese words, English ones
from its English words. A corpus of ``N`` paragraphs is a set of documents, each with a
Chinese and an English version of up to 500 numbered paragraphs (the statement format numbers
paragraphs with at most three digits), ``N`` paragraph texts in all."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PER_VERSION = 500  # numbered paragraphs per language version of one document
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass(frozen=True)
class Vocabulary:
    zh: tuple[list[str], list[int]]
    en: tuple[list[str], list[int]]


def vocabulary() -> Vocabulary:
    """Chinese words (jieba) and English words of the shipped statement, with counts."""
    import jieba

    from retrieval.corpus import load_corpus
    from retrieval.text import HAN_RUN

    jieba.setLogLevel(60)
    document = load_corpus().primary
    zh_text = " ".join(document.version("zh").paragraphs.values())
    en_text = " ".join(document.version("en").paragraphs.values())
    zh = Counter(w for w in jieba.lcut(zh_text) if HAN_RUN.fullmatch(w))
    en = Counter(_EN_WORD.findall(en_text))
    return Vocabulary(
        (sorted(zh), [zh[w] for w in sorted(zh)]), (sorted(en), [en[w] for w in sorted(en)])
    )


def _sentence(rng: random.Random, words: tuple[list[str], list[int]], lang: str) -> str:
    picked = rng.choices(words[0], weights=words[1], k=rng.randint(8, 18))
    if lang == "zh":
        if len(picked) > 10:
            picked.insert(rng.randint(4, len(picked) - 4), "，")
        return "".join(picked) + "。"
    text = " ".join(picked)
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random, vocab: Vocabulary, lang: str) -> str:
    words = vocab.zh if lang == "zh" else vocab.en
    joiner = "" if lang == "zh" else " "
    return joiner.join(_sentence(rng, words, lang) for _ in range(rng.randint(2, 4)))


def write_corpus(folder: Path, paragraphs: int, seed: int = 21) -> Path:
    """Write a corpus of ``paragraphs`` paragraph texts (half Chinese, half English) into
    ``folder``; returns the manifest path. Same arguments, same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    rng = random.Random(seed)
    per_language = max(1, paragraphs // 2)
    lines = [
        "[corpus]",
        f'id = "synthetic-{paragraphs}"',
        f'name = "Synthetic corpus of {paragraphs} paragraphs"',
        "",
    ]
    done, doc = 0, 0
    while done < per_language:
        count = min(PER_VERSION, per_language - done)
        doc += 1
        doc_id = f"synthetic-{doc:04d}"
        lines += ["[[documents]]", f'id = "{doc_id}"', 'source = "synthetic"', ""]
        for lang, title in (("zh", f"合成声明 {doc}"), ("en", f"Synthetic statement {doc}")):
            body = [title, "G-21", ""]
            body += [f"{n}. {paragraph(rng, vocab, lang)}\n" for n in range(1, count + 1)]
            name = f"{doc_id}.{lang}.txt"
            (folder / name).write_text("\n".join(body), encoding="utf-8")
            lines += [
                "  [[documents.versions]]",
                f'  lang = "{lang}"',
                f'  file = "{name}"',
                f'  title = "{title}"',
                "",
            ]
        done += count
    manifest = folder / "manifest.toml"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    return manifest

"""Scripted models for the OpenAI stand-in: a hostile one that fills whatever schema it is
asked for with claims the statement does not make, and a faithful one that answers with
correct sentences, each cited. Every reply carries the model's own labels (which sentences it
made up): the truth the tests and ``tests/llm_eval.py`` score what users saw against. Nothing
here is known to the product.

Sentences come from the labelled sets ``tests/data/grounding_*.jsonl`` (written by hand per
language and paragraph); quotes are real sentences of the paragraph."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answering.llm import guarded
from retrieval.corpus import Document
from retrieval.text import clean_user_text, split_sentences
from tests.fakes.openai import Matcher, Structured, any_message_contains, structured

DATA = Path(__file__).parent / "data"
# The sets the checks were measured and tuned on; the last set was kept out of tuning and
# measures what still gets through (README, "What it does").
SETS = ("grounding_sentences.jsonl", "grounding_heldout.jsonl")
UNSEEN = "grounding_final.jsonl"
# The odd marker forms of the issue: out of range, full width, bare, in parentheses.
ODD_MARKERS = {"en": "See also ¶41, ［¶42］ and (¶43).", "zh": "另见¶41、［¶42］和（¶43）。"}
# Each form a model may write a good citation in; the bot shows them all as [¶N].
MARKER_FORMS = ("[¶{n}]", "(¶{n})", "［¶{n}］", "[{n}]", "¶{n}", "[¶{n}, ¶{n}]")
INJECTED = {
    "en": "From my own knowledge, the Group wants sanctions on the region",
    "zh": "根据我自己的知识，本集团希望对该地区实施制裁",
}


@dataclass(frozen=True)
class Sentence:
    """One sentence of a labelled set: its language, the paragraphs it cites, its label."""

    lang: str
    paragraphs: tuple[int, ...]
    text: str
    fabricated: bool
    kind: str


@dataclass(frozen=True)
class Labelled:
    """A sentence a scripted model wrote, with its own verdict on it."""

    text: str
    fabricated: bool


@dataclass(frozen=True)
class Reply:
    """What the scripted model returns for one request, and its labels."""

    obj: dict[str, Any]
    sentences: tuple[Labelled, ...]

    def scripted(self, match: Matcher | None = None) -> Structured:
        return structured(self.obj, match=match)


def load_bank(names: Iterable[str] = SETS) -> list[Sentence]:
    rows = []
    for name in names:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(
                    Sentence(
                        row["lang"],
                        tuple(row["paragraphs"]),
                        row["sentence"],
                        row["label"] == "fabricated",
                        row["kind"],
                    )
                )
    return rows


def quote(document: Document, paragraph: int, lang: str) -> str:
    """A real quote: the paragraph's longest sentence, its end mark off."""
    sentences = split_sentences(document.text(paragraph, lang), lang)
    return max(sentences, key=len).rstrip("。.;；")


def for_question(question: str) -> Matcher:
    """Matches the answer request for ``question`` (as the prompt shows it)."""
    return any_message_contains(f"<question>\n{guarded(clean_user_text(question))}\n</question>")


def _reply(document: Document, lang: str, sentences: list[Labelled], cited: Iterable[int]) -> Reply:
    citations = [{"paragraph": n, "quote": quote(document, n, lang)} for n in dict.fromkeys(cited)]
    joiner = "" if lang == "zh" else " "
    obj = {
        # Quotes first, as the schema asks (a model fills it in order).
        "citations": citations,
        "answer": joiner.join(s.text for s in sentences),
        "not_covered": False,
    }
    return Reply(obj, tuple(sentences))


def _pick(bank: list[Sentence], lang: str, shown: list[int], fabricated: bool) -> list[Sentence]:
    """Sentences of ``lang`` whose cited paragraphs were all shown, best-ranked first."""
    rank = {n: i for i, n in enumerate(shown)}
    fits = [
        s
        for s in bank
        if s.lang == lang and s.fabricated == fabricated and all(n in rank for n in s.paragraphs)
    ]
    return sorted(fits, key=lambda s: min(rank[n] for n in s.paragraphs))


def faithful(
    document: Document, bank: list[Sentence], lang: str, shown: list[int], most: int = 3
) -> Reply | None:
    """Correct sentences about the shown paragraphs, each cited, quotes from the paragraph."""
    chosen = _pick(bank, lang, shown, fabricated=False)[:most]
    if not chosen:
        return None
    labelled = [Labelled(s.text, False) for s in chosen]
    return _reply(document, lang, labelled, (n for s in chosen for n in s.paragraphs))


def hostile(
    document: Document, bank: list[Sentence], lang: str, shown: list[int], scenario: str
) -> Reply | None:
    """A reply that fills the schema with what the statement does not say:

    * ``short_quote``: a made-up claim whose only quote is one word ("the");
    * ``real_quote``: made-up claims, each with a real quote of the paragraph it cites;
    * ``markers``: a good sentence with an extra marker to a paragraph that does not exist,
      then a sentence of odd markers; and good sentences in every other marker form;
    * ``injection``: a model that obeyed "ignore your rules";
    * ``midstream``: good, made-up, good — the bad sentence in the middle of the stream."""
    good = _pick(bank, lang, shown, fabricated=False)
    bad = _pick(bank, lang, shown, fabricated=True)
    if not good or not bad:
        return None
    top = good[0]
    marker = top.paragraphs[0]
    if scenario == "short_quote":
        reply = _reply(document, lang, [Labelled(bad[0].text, True)], [])
        reply.obj["citations"] = [
            {"paragraph": n, "quote": "的" if lang == "zh" else "the"} for n in bad[0].paragraphs
        ]
        return reply
    if scenario == "real_quote":
        chosen = bad[:3]
        return _reply(
            document,
            lang,
            [Labelled(s.text, True) for s in chosen],
            (n for s in chosen for n in s.paragraphs),
        )
    if scenario == "markers":
        extra = top.text.replace(f"[¶{marker}]", f"[¶{marker}, ¶40]")
        odd = ODD_MARKERS.get(lang, ODD_MARKERS["en"])
        sentences = [Labelled(extra, True), Labelled(odd, True)]
        for form, s in zip(MARKER_FORMS[1:], good[1:] or good, strict=False):
            n = s.paragraphs[0]
            if len(s.paragraphs) == 1:
                sentences.append(Labelled(s.text.replace(f"[¶{n}]", form.format(n=n)), False))
        return _reply(document, lang, sentences, (n for s in good for n in s.paragraphs))
    if scenario == "injection":
        said = INJECTED.get(lang, INJECTED["en"])
        end = "。" if lang == "zh" else "."
        sentences = [Labelled(f"{said} [¶{marker}]{end}", True), Labelled(bad[0].text, True)]
        return _reply(document, lang, sentences, [marker, *bad[0].paragraphs])
    if scenario == "midstream":
        first, last = good[0], good[1] if len(good) > 1 else good[0]
        sentences = [
            Labelled(first.text, False),
            Labelled(bad[0].text, True),
            Labelled(last.text, False),
        ]
        cited = [*first.paragraphs, *bad[0].paragraphs, *last.paragraphs]
        return _reply(document, lang, sentences, cited)
    raise ValueError(f"no scenario {scenario!r}")


HOSTILE_SCENARIOS = ("short_quote", "real_quote", "markers", "injection", "midstream")

"""Sentence-level grounding: markers in every form, sentences per language, the support
checks one by one, the quote minimum, verified drafts, and the thresholds as measured on the
labelled sentence sets (tests/data/grounding_*.jsonl)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.answering.grounding import (
    DraftStream,
    Verdict,
    check_sentence,
    ground,
    split_answer,
    substantial_quote,
)
from bot.answering.markers import cited, find_markers, rerender
from retrieval.corpus import Document, load_corpus
from retrieval.text import split_sentences

DATA = Path(__file__).parent / "data"
P3_QUOTE = "seek the views of Member States"
P8_EN = "Nuclear disarmament is the highest priority of the Conference on Disarmament"


@pytest.fixture(scope="module")
def document() -> Document:
    return load_corpus().primary


def backed_all(document: Document, lang: str) -> dict[int, list[str]]:
    """Every paragraph backed by its longest sentence (a real, long quote)."""
    return {
        n: [max(split_sentences(document.text(n, lang), lang), key=len)] for n in document.numbers
    }


def check(document: Document, sentence: str, lang: str = "en", **backed: list[str]) -> Verdict:
    quotes = {int(k[1:]): v for k, v in backed.items()} if backed else backed_all(document, lang)
    return check_sentence(sentence, quotes, document, lang)


# --- markers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("It is so [¶3, ¶40].", [3, 40]),
        ("See also ¶41, ［¶42］ and (¶43).", [41, 42, 43]),
        ("As shown [3] and [3, 4].", [3, 4]),
        ("Paragraph 44 says so.", [44]),
        ("第45段指出。", [45]),
        ("见第3、4段。", [3, 4]),
        ("Paragraphs 2 and 13 agree.", [2, 13]),
        ("[¶2-4] and ¶¶5–6", [2, 3, 4, 5, 6]),
        ("（第3段）", [3]),
        ("párrafo 7, paragraphe 8, пункт 9, الفقرة 10, للفقرة ١١", [7, 8, 9, 10, 11]),
        ("[ ¶ 12 ]", [12]),
    ],
)
def test_every_marker_form_is_read(text: str, numbers: list[int]) -> None:
    assert cited(text) == numbers


@pytest.mark.parametrize(
    "text", ["resolution 67/39", "in 2017 (2017)", "[67/39]", "the 33 member States (3)"]
)
def test_numbers_in_prose_are_no_markers(text: str) -> None:
    assert find_markers(text) == []


def test_markers_are_shown_in_the_bots_own_form() -> None:
    assert rerender("First [¶8, ¶9] and (¶10). Also ¶11 here ［¶12］ [13].") == (
        "First [¶8][¶9] and [¶10]. Also [¶11] here [¶12][¶13]."
    )
    assert rerender("核裁军是优先任务 ［¶8］。") == "核裁军是优先任务[¶8]。"


# --- sentences -------------------------------------------------------------------------------


def test_a_marker_after_the_end_mark_stays_with_its_sentence() -> None:
    lines = split_answer("It comes first. [¶8] The Group says so [¶9].", "en")
    assert [line.sentences for line in lines] == [
        ("It comes first. [¶8]", "The Group says so [¶9].")
    ]


def test_no_sentence_ends_after_an_abbreviation_and_lists_keep_their_bullets() -> None:
    lines = split_answer("- Mr. President is asked to act [¶15].\n2. Another point [¶3].", "en")
    assert [(line.prefix, line.sentences) for line in lines] == [
        ("- ", ("Mr. President is asked to act [¶15].",)),
        ("2. ", ("Another point [¶3].",)),
    ]


@pytest.mark.parametrize(
    ("text", "lang", "count"),
    [
        ("核裁军是优先任务[¶8]。本集团重申保证[¶8]。", "zh", 2),
        ("Группа приветствует [¶6]. СЕЛАК провозгласило [¶6].", "ru", 2),
        ("وترحب المجموعة [¶6]. وتدعو القرارات [¶2]؛ وقد قررت [¶4].", "ar", 3),
        ("À cet égard, le Groupe rappelle [¶12]. Énoncé [¶12].", "fr", 2),
        ("El Grupo observa [¶14]. ¿Y luego? Nada [¶14].", "es", 3),
    ],
)
def test_sentences_are_cut_in_every_language(text: str, lang: str, count: int) -> None:
    assert sum(len(line.sentences) for line in split_answer(text, lang)) == count


# --- the checks -------------------------------------------------------------------------------


def test_the_issues_hostile_sentences_fail(document: Document) -> None:
    """The report's scenarios: a made-up claim whose only quote is "the" (no paragraph is
    backed, so its marker is bad), a claim with a real quote but a number and a "must" the
    paragraph lacks, and odd markers to paragraphs that do not exist."""
    assert not substantial_quote("the")
    made_up = "The G-21 calls for the immediate use of nuclear weapons against cities [¶3]."
    assert check(document, made_up, p8=[P8_EN]).reason == "bad_marker"
    assert check(document, made_up).reason != "supported"
    unsupported = "The Secretary-General must destroy every nuclear weapon by 2020 [¶3]."
    assert check(document, unsupported, p3=[P3_QUOTE]).reason in ("number", "modal")
    for odd in ("It is so [¶3, ¶40].", "See also ¶41, ［¶42］ and (¶43)."):
        assert check(document, odd).reason == "bad_marker"


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("The Group believes in nuclear disarmament.", "no_marker"),
        ("The meeting was held on 26 October 2013 [¶1].", "number"),
        ("CELAC has 35 member States [¶6].", "number"),
        ("The Group does not support the zone in the Middle East [¶10].", "negation"),
        ("Member States must report on nuclear disarmament [¶3].", "modal"),
        ("The Group opposes a nuclear-weapon-free zone in the Middle East [¶10].", "reversal"),
        ("The resolutions call for the production and testing of nuclear weapons [¶2].", "scope"),
        ("The resolutions ask for a report to the Security Council [¶3].", "body"),
        ("NATO supports the establishment of a zone in the Middle East [¶10].", "body"),
        ("It comes first [¶8].", "support"),
        (
            "Nuclear disarmament is the highest priority of the Conference on Disarmament [¶13].",
            "support",
        ),
    ],
)
def test_each_check_drops_what_the_paragraph_does_not_say(
    document: Document, sentence: str, reason: str
) -> None:
    assert check(document, sentence).reason == reason


@pytest.mark.parametrize(
    ("sentence", "lang"),
    [
        (f"{P8_EN} [¶8].", "en"),
        ("Nuclear disarmament must be pursued in a non-discriminatory manner [¶8].", "en"),
        (
            "In 1996 the ICJ found an obligation to pursue negotiations on nuclear disarmament "
            "[¶12].",
            "en",
        ),
        (
            "The Treaty on the Prohibition of Nuclear Weapons was adopted on 7 July 2017 [¶14].",
            "en",
        ),
        (
            "Paragraph 12 recalls the 1996 advisory opinion of the International Court of Justice.",
            "en",
        ),
        ("核裁军是裁谈会最优先的任务 [¶8]。", "zh"),
        ("本集团大力支持迅速在中东建立无核武器区（¶10）。", "zh"),
    ],
)
def test_supported_sentences_pass(document: Document, sentence: str, lang: str) -> None:
    verdict = check(document, sentence, lang)
    assert verdict.ok, verdict
    assert all(
        m.sign is False or f"[¶{n}]" in verdict.text
        for m in find_markers(verdict.text)
        for n in m.paragraphs
    )


def test_a_sentence_citing_in_words_gets_the_bots_marker(document: Document) -> None:
    verdict = check(document, "Paragraph 14 says the treaty was adopted on 7 July 2017.")
    assert verdict.text == "Paragraph 14 says the treaty was adopted on 7 July 2017 [¶14]."


@pytest.mark.parametrize(
    ("quote", "long_enough"),
    [
        ("the", False),
        ("of the", False),
        ("Member States", False),
        (P3_QUOTE, True),
        ("核裁军", False),
        ("核裁军是裁军谈判会议", True),
    ],
)
def test_a_quote_needs_several_words(quote: str, long_enough: bool) -> None:
    assert substantial_quote(quote) is long_enough


# --- whole answers and drafts ------------------------------------------------------------------


def test_ground_keeps_supported_sentences_and_counts_the_rest(document: Document) -> None:
    text = (
        f"{P8_EN} [¶8]. The Secretary-General must destroy every weapon by 2020 [¶3]. "
        "See also ¶41, ［¶42］ and (¶43)."
    )
    grounded = ground(text, lambda s: check(document, s), "en")

    assert grounded.text == f"{P8_EN} [¶8]."
    assert grounded.paragraphs == [8]
    assert grounded.kept == 1
    assert sum(grounded.dropped.values()) == 2


def test_drafts_show_only_verified_sentences_as_they_complete(document: Document) -> None:
    good = f"{P8_EN} [¶8]."
    bad = "The Group wants every army disbanded by 2030 [¶8]."
    last = "The Group reaffirms that total elimination is the only absolute guarantee [¶8]."
    answer = f"{good} {bad} {last}"
    stream = DraftStream("en")
    drafts = []
    for end in range(1, len(answer) + 1):
        draft = stream.feed(answer[:end], lambda s: check(document, s))
        if draft:
            drafts.append(draft)
    final = stream.feed(answer, lambda s: check(document, s), done=True)
    if final:
        drafts.append(final)

    assert drafts == [good, f"{good} {last}"]
    assert all("disbanded" not in d for d in drafts)


# --- the thresholds, as measured ---------------------------------------------------------------


def rows(name: str) -> list[dict[str, object]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kept_by_lang(document: Document, name: str) -> dict[tuple[str, str], Counter[str]]:
    out: dict[tuple[str, str], Counter[str]] = {}
    for row in rows(name):
        lang = str(row["lang"])
        if lang not in document.versions:
            continue  # a language version this corpus does not hold
        verdict = check(document, str(row["sentence"]), lang)
        counts = out.setdefault((lang, str(row["label"])), Counter())
        counts["n"] += 1
        counts["kept"] += verdict.ok
    return out


@pytest.mark.parametrize("name", ["grounding_sentences.jsonl", "grounding_heldout.jsonl"])
def test_measured_sets_no_fabrication_passes_and_faithful_sentences_stay(
    document: Document, name: str
) -> None:
    """The sets the thresholds were chosen on: every fabricated sentence is dropped, at least
    93 % of the faithful ones are kept in every language (0.98-1.00 measured; one English
    paraphrase of the held-out set leans on words of other paragraphs)."""
    for (lang, label), counts in kept_by_lang(document, name).items():
        if label == "fabricated":
            assert counts["kept"] == 0, (lang, counts)
        else:
            assert counts["kept"] / counts["n"] >= 0.93, (lang, counts)


def test_unseen_set_what_still_gets_through(document: Document) -> None:
    """The set kept out of tuning: what the word-level checks cannot see (a made-up claim in
    the paragraph's own vocabulary, "a nuclear-weapon zone" for "a zone of peace") — measured
    0.94 of faithful sentences kept and 6 of 34 made-up ones passed over six languages."""
    kept = kept_by_lang(document, "grounding_final.jsonl")
    faithful = [c for (_, label), c in kept.items() if label == "faithful"]
    fabricated = [c for (_, label), c in kept.items() if label == "fabricated"]
    assert sum(c["kept"] for c in faithful) / sum(c["n"] for c in faithful) >= 0.85
    assert sum(c["kept"] for c in fabricated) / sum(c["n"] for c in fabricated) <= 0.25

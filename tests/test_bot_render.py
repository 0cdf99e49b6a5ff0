"""Telegram output without the network: HTML escaping, splitting under 4096 characters with
citations kept, and the inline keyboards (checked with the stand-in's Telegram HTML parser)."""

from __future__ import annotations

import re

import pytest

from bot.answering.answer import Answer, Citation
from bot.telegram.render import (
    MAX_MESSAGE,
    citation_keyboard,
    paragraph_keyboard,
    parse_callback,
    split_message,
    to_html,
)
from tests.fakes.telegram import check_html, plain_text

NASTY = 'a<b>c</b> & "d" <script>x</script> &amp; 1<2>0 ¶'


def shown(pieces: list[str]) -> list[str]:
    """The text Telegram shows for each HTML piece; every piece must parse cleanly."""
    for piece in pieces:
        assert check_html(piece) == [], piece
    return [plain_text(piece, "HTML") for piece in pieces]


def test_to_html_escapes_everything_and_bolds_citations() -> None:
    html = to_html(f"{NASTY} [¶3] [¶12][¶ 4] [3]")
    assert check_html(html) == []
    assert "<b>[¶3]</b> <b>[¶12]</b>[¶ 4] [3]" in html
    assert plain_text(html, "HTML") == f"{NASTY} [¶3] [¶12][¶ 4] [3]"
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_short_text_is_one_message() -> None:
    assert split_message(f"{NASTY} [¶1]") == [to_html(f"{NASTY} [¶1]")]


def test_split_at_paragraph_breaks_keeps_each_paragraph_whole() -> None:
    blocks = [f"Paragraph {n} [¶{n}]\n" + f"{NASTY} sentence {n}. " * 40 for n in range(1, 16)]
    text = "\n\n".join(b.strip() for b in blocks)
    pieces = split_message(text)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_MESSAGE for p in pieces)
    plains = shown(pieces)
    assert "\n\n".join(plains) == text
    for plain in plains:
        # every message starts with a paragraph head: no paragraph is cut in two
        heads = re.findall(r"^Paragraph (\d+) \[¶(\d+)\]$", plain, flags=re.M)
        assert heads and plain.startswith("Paragraph ")
        assert len(heads) == plain.count("[¶")


@pytest.mark.parametrize("limit", [200, 1000, MAX_MESSAGE])
def test_one_long_line_splits_at_sentences_keeping_their_citations(limit: int) -> None:
    english = [f"Point {n} says {NASTY} & more. [¶{n % 15 + 1}] " for n in range(60)]
    chinese = [f"本集团强调第{n}点“{NASTY}”。”[¶{n % 15 + 1}]" for n in range(60)]
    for sentences in (english, chinese):
        text = "".join(sentences * (1 if limit < MAX_MESSAGE else 8)).strip()
        pieces = split_message(text, limit)
        assert len(pieces) > 1
        assert all(len(p) <= limit for p in pieces)
        plains = shown(pieces)
        # nothing lost or added between the pieces (white space included)
        assert "".join(plains) == text
        for plain in plains:
            # a citation stays with the sentence it follows
            assert not plain.lstrip().startswith(("[¶", "”", "。")), plain[:60]


def test_text_without_any_break_is_cut_safely() -> None:
    text = "&<>" * 3000
    pieces = split_message(text)
    assert all(len(p) <= MAX_MESSAGE for p in pieces)
    assert "".join(shown(pieces)) == text


def test_split_never_leaves_a_tag_open_across_messages() -> None:
    text = " ".join(f"word{n} [¶{n % 15 + 1}]" for n in range(3000))
    pieces = split_message(text, 500)
    assert all(len(p) <= 500 for p in pieces)
    assert sum(p.count("<b>") for p in pieces) == 3000
    shown(pieces)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("c:10:en", ("c", 10, "en")),
        ("p:1:zh", ("p", 1, "zh")),
        ("p:15:en", ("p", 15, "en")),
        ("p:16:en", None),
        ("p:0:zh", None),
        ("c:1:fr", ("c", 1, "fr")),
        ("p:2:es", ("p", 2, "es")),
        ("p:3:ru", ("p", 3, "ru")),
        ("c:4:ar", ("c", 4, "ar")),
        ("p:1:de", None),
        ("p:1:FR", None),
        ("p:1:zh-hant", None),
        ("x", None),
        ("", None),
        (None, None),
        ("p:1:en ", None),
        ("q:1:en", None),
        ("p:00001:en", None),
    ],
)
def test_parse_callback(data: str | None, expected: tuple[str, int, str] | None) -> None:
    assert parse_callback(data, 15) == expected


def _keyboard(markup: object) -> list[list[tuple[str, str]]]:
    rows = markup.inline_keyboard  # type: ignore[attr-defined]
    return [[(b.text, b.callback_data) for b in row] for row in rows]


# Under a paragraph, the other versions in a fixed order (the original first), rows of three.
ORDER = [("中文", "zh"), ("English", "en"), ("Français", "fr"), ("Español", "es")]
ORDER += [("Русский", "ru"), ("العربية", "ar")]


def _versions(n: int, lang: str) -> list[list[tuple[str, str]]]:
    others = [(name, f"p:{n}:{code}") for name, code in ORDER if code != lang]
    return [others[:3], others[3:]]


def test_paragraph_keyboard_at_the_edges() -> None:
    assert _keyboard(paragraph_keyboard(1, 15, "zh")) == [
        [("¶2 ▶", "p:2:zh")],
        *_versions(1, "zh"),
    ]
    assert _keyboard(paragraph_keyboard(15, 15, "en")) == [
        [("◀ ¶14", "p:14:en")],
        *_versions(15, "en"),
    ]
    assert _keyboard(paragraph_keyboard(1, 1, "fr")) == _versions(1, "fr")


@pytest.mark.parametrize("lang", ["zh", "en", "fr", "es", "ru", "ar"])
def test_paragraph_keyboard_offers_the_other_five_versions(lang: str) -> None:
    rows = _keyboard(paragraph_keyboard(7, 15, lang))
    assert rows[0] == [("◀ ¶6", f"p:6:{lang}"), ("¶8 ▶", f"p:8:{lang}")]
    assert rows[1:] == _versions(7, lang)
    offered = [parse_callback(data, 15) for row in rows[1:] for _, data in row]
    assert sorted(o[2] for o in offered if o) == sorted({c for _, c in ORDER} - {lang})
    assert all(len(row) <= 3 for row in rows)  # short rows: names stay whole on a phone


def test_paragraph_keyboard_data_fits_and_parses() -> None:
    for n in (1, 2, 14, 15, 9999):
        for lang in ("zh", "en", "fr", "es", "ru", "ar"):
            for row in _keyboard(paragraph_keyboard(n, 9999, lang)):
                for _, data in row:
                    assert len(data.encode()) <= 64 and parse_callback(data, 9999) is not None


def test_citation_keyboard() -> None:
    citations = [Citation(n, "q") for n in (3, 1, 3, 4, 5, 6, 7, 8, 9, 10)]
    answer = Answer("text", citations, "en", "extractive")
    rows = _keyboard(citation_keyboard(answer))
    assert [len(r) for r in rows] == [4, 4]
    assert rows[0][:2] == [("¶3", "c:3:en"), ("¶1", "c:1:en")]
    assert citation_keyboard(Answer("t", [], "en", "abstain", abstained=True)) is None
    shown_answer = Answer("t", citations, "zh", "reference", shown=[3, 4])
    assert citation_keyboard(shown_answer) is None

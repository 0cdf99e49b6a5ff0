"""The fixed messages: every language has every English message, with the same placeholders,
markers and commands, and each fits one Telegram message."""

from __future__ import annotations

import re
import string

import pytest

from bot.answering import messages
from bot.answering.messages import MESSAGES, REPLY_LANGUAGES, message

ENGLISH = MESSAGES["en"]
OTHERS = [lang for lang in MESSAGES if lang != "en"]
TELEGRAM_MAX = 4096


def placeholders(text: str) -> list[str]:
    return sorted(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def commands(text: str) -> list[str]:
    return sorted(re.findall(r"(?<![\w/])/[a-z]+", text))


def test_the_six_un_languages() -> None:
    assert set(REPLY_LANGUAGES) == {"ar", "zh", "en", "fr", "ru", "es"}


@pytest.mark.parametrize("lang", OTHERS)
def test_every_language_has_exactly_the_english_keys(lang: str) -> None:
    table = MESSAGES[lang]
    assert sorted(set(ENGLISH) - set(table)) == [], "missing"
    assert sorted(set(table) - set(ENGLISH)) == [], "extra"


@pytest.mark.parametrize("lang", OTHERS)
def test_same_placeholders_markers_and_commands(lang: str) -> None:
    for key, english in ENGLISH.items():
        text = MESSAGES[lang][key]
        assert placeholders(text) == placeholders(english), key
        for marker in ("[¶", "¶N"):
            assert text.count(marker) == english.count(marker), key
        assert commands(text) == commands(english), key


@pytest.mark.parametrize("lang", list(MESSAGES))
def test_every_message_fits_a_telegram_message(lang: str) -> None:
    values = {"bot": "x" * 32, "count": 999, "missing": 1000, "length": 99999, "limit": 9999}
    for key, text in MESSAGES[lang].items():
        assert len(text) <= TELEGRAM_MAX, key
        filled = message(lang, key, **{**{f: "x" for f in placeholders(text)}, **values})
        assert len(filled) <= TELEGRAM_MAX, key
        assert "  " not in text, key


@pytest.mark.parametrize("lang", list(MESSAGES))
def test_stance_leads_are_short_and_end_in_a_colon(lang: str) -> None:
    leads = {k: v for k, v in MESSAGES[lang].items() if k.startswith("stance_")}
    assert len(leads) == 14
    for key, text in leads.items():
        assert text.endswith((":", "：")) and len(text) <= 60, key


def test_translation_note_in_every_language_but_the_original() -> None:
    assert MESSAGES["zh"]["translation_note"] == ""
    for lang in MESSAGES:
        if lang != "zh":
            assert "(" in MESSAGES[lang]["translation_note"], lang
    assert "chinois" in MESSAGES["fr"]["translation_note"]
    assert "chino" in MESSAGES["es"]["translation_note"]
    assert "китайского" in MESSAGES["ru"]["translation_note"]
    assert "الصيني" in MESSAGES["ar"]["translation_note"]


def test_un_terminology() -> None:
    for lang, names in {
        "fr": ("Conférence du désarmement", "Groupe des 21", "Cour internationale de Justice"),
        "es": ("Conferencia de Desarme", "Grupo de los 21", "Corte Internacional de Justicia"),
        "ru": ("Конференции по разоружению", "Группы 21", "Международный Суд"),
        "ar": ("مؤتمر نزع السلاح", "مجموعة الـ 21", "محكمة العدل الدولية"),
    }.items():
        everything = "\n".join(MESSAGES[lang].values())
        for name in names:
            assert name in everything, (lang, name)


def test_a_key_missing_in_a_language_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    french = {k: v for k, v in MESSAGES["fr"].items() if k != "reset_done"}
    monkeypatch.setitem(messages.MESSAGES, "fr", french)
    assert message("fr", "reset_done") == ENGLISH["reset_done"]
    french_usage = "Utilisation : /para N, N étant compris entre 1 et 15."
    assert message("fr", "para_usage", count=15) == french_usage
    assert message("de", "para_usage", count=15) == "Usage: /para N, with N from 1 to 15."
    with pytest.raises(KeyError):
        message("fr", "no_such_key")

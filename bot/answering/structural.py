"""Answers from the document's structure rather than from a search: small talk, the outline,
facts about the document (submitter, addressee, title, length, languages, source), complete
lists of what it mentions, and "which paragraph was that?"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answering.answer import Answer, Citation
from bot.answering.messages import message
from retrieval.corpus import Document
from retrieval.entities import EntityIndex
from retrieval.text import split_sentences

# A scope line's items: "the ICJ advisory opinion (¶12)", "… （¶1-4）".
_SCOPE_ITEM = re.compile(
    r"\s*[,，、،;；:：]?\s*(?:and |y |et |и |و)?(.+?)\s*[(（]¶(\d+)(?:\s*[-–]\s*(\d+))?[)）]"
)


def _cite_range(first: int, last: int) -> str:
    return f"[¶{first}]" if first == last else f"[¶{first}-{last}]"


def _lead_sentence(document: Document, n: int, lang: str) -> str:
    sentences = split_sentences(document.text(n, lang), lang)
    return sentences[0] if sentences else document.text(n, lang)


def _note(document: Document, lang: str) -> str:
    return message(lang, "translation_note") if not document.official.get(lang, True) else ""


def _answer(
    lines: Sequence[str],
    citations: list[Citation],
    lang: str,
    document: Document,
    kind: str,
    quoted: bool = True,
) -> Answer:
    # The translation notice goes with words quoted from a translation, not with the
    # manifest's own description of the statement.
    note = _note(document, lang) if citations and quoted else ""
    text = "\n".join([*lines, note] if note else lines)
    return Answer(text, citations, lang, "extractive", note=note, kind=kind)


def smalltalk_answer(detail: str, lang: str) -> Answer:
    """A short friendly reply with example questions; no citations."""
    key = f"smalltalk_{detail}" if detail in ("thanks", "bye", "ack") else "start"
    return Answer(message(lang, key), [], lang, "extractive", kind="smalltalk")


def outline_answer(document: Document, lang: str) -> Answer:
    """What the statement covers, point by point, each point with its paragraphs."""
    scope = document.scope_in(lang)
    scope = scope.split("：", 1)[-1].split(":", 1)[-1]
    lines = [message(lang, "outline_lead", count=document.count)]
    citations: list[Citation] = []
    for match in _SCOPE_ITEM.finditer(scope):
        topic = match.group(1).strip(" ,，、;；.。")
        first = int(match.group(2))
        last = int(match.group(3) or first)
        if first not in document.numbers or last not in document.numbers:
            continue
        lines.append(f"• {topic} {_cite_range(first, last)}")
        citations.extend(
            Citation(n, _lead_sentence(document, n, lang)) for n in range(first, last + 1)
        )
    if citations:
        return _answer(lines, citations, lang, document, "overview", quoted=False)
    # No scope line in the manifest: the first sentence of every paragraph.
    for n in document.numbers:
        sentence = _lead_sentence(document, n, lang)
        lines.append(f"• “{sentence}” [¶{n}]")
        citations.append(Citation(n, sentence))
    return _answer(lines, citations, lang, document, "overview")


def metadata_answer(details: Sequence[str], document: Document, lang: str) -> Answer:
    """Facts about the document from the manifest, citing paragraphs where the text says it."""
    version = document.version(lang)
    lines: list[str] = []
    citations: list[Citation] = []
    for detail in dict.fromkeys(details or ["submitter"]):
        if detail == "addressee" and version.addressee:
            where = document.addressed_in(lang)
            refs = " ".join(f"[¶{n}]" for n in where)
            lines.append(message(lang, "meta_addressee", addressee=version.addressee, refs=refs))
            citations.extend(Citation(n, name) for n, name in where.items())
        elif detail == "title":
            lines.append(message(lang, "meta_title", title=version.title))
        elif detail == "count":
            lines.append(message(lang, "meta_count", count=document.count))
        elif detail == "languages":
            names = ", ".join(message(lang, f"lang_{code}") for code in document.languages)
            original = ", ".join(
                message(lang, f"lang_{code}")
                for code in document.languages
                if document.official[code]
            )
            lines.append(message(lang, "meta_languages", languages=names, original=original))
        elif detail == "source":
            lines.append(message(lang, "meta_source", source=document.source))
            if version.note:
                lines.append(version.note)
        elif detail == "date":
            lines.append(message(lang, "meta_date"))
        else:  # submitter, and anything the manifest does not describe
            lines.append(message(lang, "meta_submitter", submitter=version.submitter))
    return _answer(lines, citations, lang, document, "metadata")


def list_answer(kind: str, entities: EntityIndex, document: Document, lang: str) -> Answer:
    """Every entity of ``kind`` the statement mentions, each with its paragraphs."""
    items = entities.items(kind, lang)
    if not items:
        text = message(lang, "list_empty", what=message(lang, f"list_{kind}"))
        return Answer(text, [], lang, "extractive", kind="list")
    by_key: dict[str, list[tuple[int, str]]] = {}
    for entity in items:
        by_key.setdefault(entity.key, []).append((entity.paragraph, entity.text))
    lines = [message(lang, "list_lead", what=message(lang, f"list_{kind}"))]
    citations: list[Citation] = []
    for places in by_key.values():
        name = places[0][1]
        refs = ", ".join(f"¶{n}" for n, _ in places)
        lines.append(f"• {name} [{refs}]")
        citations.extend(Citation(n, text) for n, text in places)
    return _answer(lines, citations, lang, document, "list")


def which_paragraph_answer(focus: Sequence[int], document: Document, lang: str) -> Answer:
    """ "Which paragraph was that?": the last answer's paragraphs."""
    numbers = [n for n in focus if n in document.numbers]
    refs = " ".join(f"[¶{n}]" for n in numbers)
    citations = [Citation(n, _lead_sentence(document, n, lang)) for n in numbers]
    text = message(lang, "which_paragraph", refs=refs)
    return Answer(text, citations, lang, "extractive", kind="which_paragraph")

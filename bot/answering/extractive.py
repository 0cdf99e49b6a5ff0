"""Offline answers: the sentences of the best paragraphs that answer the question, quoted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bot.answering.answer import Answer, Citation
from bot.answering.compose import Context
from bot.answering.messages import message
from retrieval.corpus import Document
from retrieval.refs import ParagraphRequest
from retrieval.search import ParagraphHit, expand_aliases, features
from retrieval.stance import stances_of
from retrieval.text import split_sentences

MAX_SENTENCES = 3
# A sentence from a lower-ranked paragraph joins the answer only if it matches nearly as
# well as the best one: more quotes are not a better answer.
SECONDARY_SHARE = 0.75
PARAGRAPHS_CONSIDERED = 3


# A sentence holding what a "when / where / how many" question asks for (a date, a place, a
# number) gains this much, on the scale of a sentence holding every question term.
ANSWER_TYPE_BONUS = 0.5


@dataclass(frozen=True)
class Scored:
    paragraph: int
    position: int
    sentence: str
    score: float
    # The (IDF-weighted) share of the question's terms the sentence holds.
    content: float = 0.0


def score_sentences(
    question: str,
    hits: Sequence[ParagraphHit],
    document: Document,
    lang: str,
    weight: Callable[[str], float],
    answer_terms: Sequence[str] = (),
) -> list[Scored]:
    """Every sentence of the top paragraphs, scored by the IDF weight of the question terms
    it contains (abbreviations read as the statement's words), with a small bonus for the
    paragraph's rank and one for holding what the question asks for."""
    wanted = features(expand_aliases(question, lang=lang), lang)
    total = sum(weight(t) for t in wanted) or 1.0
    asked = [t.casefold() for t in answer_terms]
    scored = []
    for rank, hit in enumerate(hits[:PARAGRAPHS_CONSIDERED]):
        prior = 1.0 - 0.15 * rank
        sentences = split_sentences(document.text(hit.paragraph, lang), lang)
        for position, sentence in enumerate(sentences):
            found = features(sentence, lang)
            content = sum(weight(t) for t in wanted if t in found) / total
            folded = sentence.casefold()
            bonus = ANSWER_TYPE_BONUS if any(t in folded for t in asked) else 0.0
            scored.append(
                Scored(hit.paragraph, position, sentence, prior * (0.1 + content + bonus), content)
            )
    return scored


def choose(scored: list[Scored], top_paragraph: int) -> list[Scored]:
    """The best sentence of the top paragraph, plus close runners-up that share content with
    the question (more quotes are not a better answer), in reading order."""
    if not scored:
        return []
    in_top = [s for s in scored if s.paragraph == top_paragraph]
    first = max(in_top or scored, key=lambda s: s.score)
    picked = [first]
    for candidate in sorted(scored, key=lambda s: -s.score):
        if len(picked) >= MAX_SENTENCES:
            break
        if candidate is first or candidate.score < SECONDARY_SHARE * first.score:
            continue
        if candidate.content <= 0 or candidate.content < SECONDARY_SHARE * first.content:
            continue
        picked.append(candidate)
    order = {
        p: i for i, p in enumerate(dict.fromkeys([first.paragraph, *[s.paragraph for s in picked]]))
    }
    return sorted(picked, key=lambda s: (order[s.paragraph], s.position))


def _align(chosen: list[Scored], document: Document, source_lang: str, lang: str) -> list[Scored]:
    """Carry sentences picked in the question's language over to the reply's language: the
    same sentence where both versions split alike, else the whole paragraph."""
    if source_lang == lang:
        return chosen
    out: list[Scored] = []
    for s in chosen:
        target = split_sentences(document.text(s.paragraph, lang), lang)
        source = split_sentences(document.text(s.paragraph, source_lang), source_lang)
        text = target[s.position] if len(target) == len(source) else " ".join(target)
        if all(o.sentence != text for o in out):
            out.append(Scored(s.paragraph, s.position, text, s.score))
    return out


class ExtractiveComposer:
    """Answers from the statement's own sentences: no model, no network."""

    name = "extractive"

    def compose(self, ctx: Context) -> Answer:
        return extractive_answer(ctx)

    async def astream(self, ctx: Context) -> AsyncIterator[str | Answer]:
        yield self.compose(ctx)


def extractive_answer(ctx: Context) -> Answer:
    """Compose the reply from the search result; abstain when the gate says not covered."""
    result, document, lang = ctx.result, ctx.document, ctx.question.reply_lang
    if result.request is not None:
        return paragraph_answer(result.request, document, lang, result.paragraphs)
    if not result.covered or not result.hits:
        return not_covered_answer(document, lang, result.paragraphs)
    # The version the question was searched in (its own language, else English).
    question_lang = result.lang or ctx.question.lang
    source_lang = question_lang if question_lang in document.versions else lang
    scored = score_sentences(
        ctx.standalone, result.hits, document, source_lang, ctx.weight, ctx.answer_terms
    )
    chosen = _align(choose(scored, result.hits[0].paragraph), document, source_lang, lang)
    lines = [message(lang, "lead")]
    stance = None
    if ctx.kind == "stance" and chosen:
        stance = _stance(chosen[0].sentence, ctx.standalone, lang)
    if stance:
        # Said by the quote below it: what the Group does there, in the text's own verb.
        lines = [message(lang, f"stance_{stance}")]
    citations = []
    for s in chosen:
        lines.append(f"“{s.sentence}” [¶{s.paragraph}]")
        citations.append(Citation(s.paragraph, s.sentence))
    note = message(lang, "translation_note") if not document.official.get(lang, True) else ""
    if note:
        lines.append(note)
    return Answer(
        "\n".join(lines), citations, lang, "extractive", retrieved=result.paragraphs, note=note
    )


def _stance(sentence: str, question: str, lang: str) -> str | None:
    """What the Group does in ``sentence`` about what ``question`` asks: the stance verb
    whose stretch of the sentence shares the most with the question."""
    marks = stances_of(sentence, lang)
    if not marks:
        return None
    wanted = features(expand_aliases(question, lang=lang), lang)
    ends = [m.start for m in marks[1:]] + [len(sentence)]
    shared = [
        len(wanted & features(sentence[m.start : end], lang))
        for m, end in zip(marks, ends, strict=True)
    ]
    return marks[shared.index(max(shared))].key


def paragraph_answer(
    request: ParagraphRequest, document: Document, lang: str, retrieved: list[int]
) -> Answer:
    """Requested paragraphs in full; a number the statement lacks is said plainly."""
    blocks, citations = [], []
    for n in request.numbers:
        text = document.text(n, lang)
        blocks.append(f"{message(lang, 'paragraph_head', n=n)} [¶{n}]\n{text}")
        citations.append(Citation(n, text))
    if request.missing:
        missing = ", ".join(str(n) for n in request.missing)
        blocks.append(message(lang, "no_such_paragraph", count=document.count, missing=missing))
    note = ""
    if request.numbers and not document.official.get(lang, True):
        note = message(lang, "translation_note")
        blocks.append(note)
    return Answer(
        "\n\n".join(blocks),
        citations,
        lang,
        "reference" if request.numbers else "abstain",
        abstained=not request.numbers,
        retrieved=retrieved,
        note=note,
        shown=list(request.numbers),
    )


def not_covered_answer(document: Document, lang: str, retrieved: list[int]) -> Answer:
    text = message(lang, "not_covered", topic="")
    scope = document.scope_in(lang)
    if scope:
        text += "\n" + scope
    return Answer(text, [], lang, "abstain", abstained=True, retrieved=retrieved)

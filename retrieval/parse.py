"""Read a statement text file (as extracted from a PDF) into numbered paragraphs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import StatementFormatError
from retrieval.text import has_han, is_cjk

# `N.` at the start of a line, followed by white space or text (not `2.5`).
_NUMBERED = re.compile(r"^(\d{1,3})\.(?!\d)\s*(.*)$")
# A numbered line this far past the expected number is ordinary text (a year, say).
_GAP_WINDOW = 20


@dataclass(frozen=True)
class Statement:
    """One language version of a statement: header lines and paragraphs by number."""

    doc_id: str
    lang: str
    title: str
    submitter: str
    paragraphs: Mapping[int, str]
    source: str = ""
    note: str = ""
    header: tuple[str, ...] = field(default=())
    # Whom the statement is addressed to, the names the text gives it, and the names the
    # submitter speaks under ("the Group", "we"): from the manifest.
    addressee: str = ""
    addressee_names: tuple[str, ...] = field(default=())
    speaker_names: tuple[str, ...] = field(default=())

    @property
    def numbers(self) -> list[int]:
        return list(self.paragraphs)

    def paragraph(self, number: int) -> str:
        return self.paragraphs[number]


def read_text(path: Path) -> str:
    """Read UTF-8 text, rejecting binary data and invalid bytes with the line they are on."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StatementFormatError(path, None, f"cannot read file: {exc.strerror}") from exc
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw[:nul].count(b"\n") + 1
        raise StatementFormatError(path, line, "binary data (NUL byte); expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StatementFormatError(
            path, line, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from exc
    return text.removeprefix("\ufeff")


def join_wrapped(lines: list[str]) -> str:
    """Join PDF-wrapped lines: no space inside Chinese, one space between Latin words,
    and an end-of-line hyphen undone unless the word is already a hyphenated compound."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        prev, nxt = out[-1], line[0]
        if prev == "-" and len(out) > 1 and out[-2].isalpha() and nxt.islower():
            word = re.search(r"(\S*)-$", out)
            compound = word is not None and "-" in word.group(1)
            out = out + line if compound else out[:-1] + line
        elif prev == "-" and len(out) > 1 and out[-2].isalnum() and nxt.isalnum():
            out += line  # a real hyphen before a capital or digit: `Non-` / `Proliferation`
        elif is_cjk(prev) or is_cjk(nxt):
            # UN Chinese text sets numbers off with spaces (`第 68/32 号`); keep that style.
            # Not after or before CJK punctuation: `因此，21 国集团`.
            spaced = (has_han(prev) and nxt.isascii() and nxt.isalnum()) or (
                has_han(nxt) and prev.isascii() and prev.isalnum()
            )
            out += (" " if spaced else "") + line
        else:
            out += " " + line
    return out


def parse_statement(path: str | Path, doc_id: str, lang: str) -> Statement:
    """Parse one statement file; any defect raises ``StatementFormatError`` with its line."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise StatementFormatError(path, 1, "file is empty")

    header: list[str] = []
    paragraphs: dict[int, list[str]] = {}
    current: int | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        match = _NUMBERED.match(stripped)
        if match:
            number = int(match.group(1))
            expected = (current or 0) + 1
            if number == expected:
                current = number
                paragraphs[number] = [match.group(2)]
                continue
            if current is None and 1 < number <= _GAP_WINDOW:
                raise StatementFormatError(
                    path, lineno, f"numbering starts at {number}; the first paragraph must be 1"
                )
            if current is not None and 0 < number <= current:
                raise StatementFormatError(
                    path, lineno, f"paragraph {number} appears again after paragraph {current}"
                )
            if current is not None and expected < number <= current + _GAP_WINDOW:
                missing = expected if number == expected + 1 else f"{expected}-{number - 1}"
                raise StatementFormatError(
                    path,
                    lineno,
                    f"paragraph {number} follows {current}: paragraph {missing} missing",
                )
        if current is None:
            if stripped:
                header.append(stripped)
        else:
            paragraphs[current].append(line)

    if not paragraphs:
        raise StatementFormatError(path, None, "no numbered paragraphs ('1. …' at a line start)")
    joined = {n: join_wrapped(lines) for n, lines in paragraphs.items()}
    for number, body in joined.items():
        if not body:
            raise StatementFormatError(path, None, f"paragraph {number} is empty")
    return Statement(
        doc_id=doc_id,
        lang=lang,
        title=header[0] if header else "",
        submitter=header[1] if len(header) > 1 else "",
        paragraphs=joined,
        source=str(path),
        note=" ".join(header[2:]),
        header=tuple(header),
    )

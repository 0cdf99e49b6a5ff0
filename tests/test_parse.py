"""Parsing statement files into numbered paragraphs, and the corpus manifest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.corpus import Corpus, load_corpus
from retrieval.errors import ManifestError, RetrievalError, StatementFormatError
from retrieval.parse import Statement, join_wrapped, parse_statement

ZH_FILE = "g21-2013-hlm-follow-up.zh.txt"
EN_FILE = "g21-2013-hlm-follow-up.en.txt"


@pytest.fixture(scope="module")
def zh(corpus_dir: Path) -> Statement:
    return parse_statement(corpus_dir / ZH_FILE, "g21", "zh")


@pytest.fixture(scope="module")
def en(corpus_dir: Path) -> Statement:
    return parse_statement(corpus_dir / EN_FILE, "g21", "en")


def write(tmp_path: Path, text: str | bytes, name: str = "statement.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- the real statement ------------------------------------------------------------------


def test_chinese_statement_has_exactly_15_paragraphs(zh: Statement) -> None:
    assert zh.numbers == list(range(1, 16))


def test_paragraph_8_is_the_cd_priority(zh: Statement) -> None:
    # In the PDF text its number is indented (` 8.`) and follows ¶7 without a blank line.
    assert zh.paragraph(8).startswith("核裁军是裁军谈判会议最为优先的任务")
    assert "核裁军是裁军谈判会议" not in zh.paragraph(7)


def test_word_wrapped_across_a_blank_line_is_joined(zh: Statement) -> None:
    # The file has `…高级` / blank line / `别会议…` inside paragraph 2.
    assert "2013 年核裁军问题大会高级别会议的后续行动" in zh.paragraph(2)
    assert not re.search(r"高级\s+别", zh.paragraph(2))


def test_chinese_lines_join_without_spaces(zh: Statement) -> None:
    for number, text in zh.paragraphs.items():
        assert "\n" not in text, number
        assert not re.search(r"[\u4e00-\u9fff，。、] +[\u4e00-\u9fff，。、]", text), number
    # Numbers keep the UN style of one space on each side, also across a line wrap.
    assert "第 72/251 号和第 73/40 决议" in zh.paragraph(2)
    assert "第 72/251 号和第 73/40 号决议" in zh.paragraph(13)


def test_a_resolution_number_at_a_line_start_opens_no_paragraph(zh: Statement) -> None:
    # `72/251 号…` starts a line in ¶2 and in ¶13.
    assert all(not text.startswith(("72/251", "251")) for text in zh.paragraphs.values())
    assert len(zh.paragraphs) == 15


def test_paragraph_bodies_do_not_repeat_their_number(zh: Statement, en: Statement) -> None:
    for statement in (zh, en):
        for number, text in statement.paragraphs.items():
            assert not re.match(rf"\s*{number}\.", text)
            assert text == text.strip()


def test_title_and_submitter_come_from_the_header(zh: Statement, en: Statement) -> None:
    assert zh.title == "关于 2013 年核裁军问题大会高级别会议后续行动的声明"
    assert zh.submitter == "21 国集团(G-21)提交"
    assert en.title.startswith("Statement on the follow-up to the 2013 high-level meeting")
    assert en.submitter == "Submitted by the Group of 21 (G-21)"
    assert en.note == ""  # the translation note is in manifest.toml, not in the file


def test_english_version_is_aligned_with_the_chinese(zh: Statement, en: Statement) -> None:
    assert en.numbers == zh.numbers
    assert en.paragraph(8).startswith("Nuclear disarmament is the highest priority")
    assert "International Court of Justice" in en.paragraph(12)
    assert "国际法院" in zh.paragraph(12)


def test_manifest_gives_both_versions_and_their_metadata(corpus: Corpus) -> None:
    document = corpus.primary
    assert corpus.corpus_id == "g21-hlm"
    assert document.languages == ["zh", "en", "fr", "es", "ru", "ar"]
    assert document.count == 15
    assert document.official == {
        "zh": True,
        "en": False,
        "fr": False,
        "es": False,
        "ru": False,
        "ar": False,
    }
    assert document.versions["zh"].submitter == "21 国集团(G-21)"
    assert "¶12" in document.scope_in("en")
    assert document.text(8, "de") == document.text(8, "zh")  # absent language: first version


# --- joining wrapped lines -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["The Group", "reaffirms its", "position."], "The Group reaffirms its position."),
        (["nuclear disarma-", "ment is a priority"], "nuclear disarmament is a priority"),
        (["nuclear-weapon-", "free zones"], "nuclear-weapon-free zones"),
        (["彻底消除核", "武器"], "彻底消除核武器"),
        (["高级", "", "别会议"], "高级别会议"),
        (["大会第", "67/39 号决议"], "大会第 67/39 号决议"),
        (["  leading  ", "", "  and trailing  "], "leading and trailing"),
        (["non-", "Proliferation"], "non-Proliferation"),
    ],
    ids=[
        "latin-space",
        "hyphenation",
        "compound",
        "cjk",
        "cjk-blank-line",
        "cjk-number",
        "whitespace",
        "hyphen-before-capital",
    ],
)
def test_join_wrapped(lines: list[str], joined: str) -> None:
    assert join_wrapped(lines) == joined


def test_english_file_line_wraps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "A title\nA submitter\n\n"
        "1. Nuclear disarma-\nment remains the priority of the\nConference.\n\n"
        "2. The Group supports nuclear-weapon-\nfree zones.\n",
    )
    statement = parse_statement(path, "doc", "en")
    assert statement.paragraphs == {
        1: "Nuclear disarmament remains the priority of the Conference.",
        2: "The Group supports nuclear-weapon-free zones.",
    }
    assert (statement.title, statement.submitter) == ("A title", "A submitter")


def test_21_guo_jituan_at_a_line_start_opens_no_paragraph(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "标题\n\n1. 第一段。\n\n2. 本集团重申，\n21 国集团呼吁各方。\n\n3. 第三段，\n"
        "21 国集团借此机会呼吁。\n",
    )
    statement = parse_statement(path, "doc", "zh")
    assert statement.numbers == [1, 2, 3]
    assert statement.paragraph(2) == "本集团重申，21 国集团呼吁各方。"
    assert statement.paragraph(3) == "第三段，21 国集团借此机会呼吁。"


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffTitle\n1. One.\n2. Two.\n")
    statement = parse_statement(path, "doc", "en")
    assert statement.title == "Title"
    assert statement.numbers == [1, 2]


def test_decimal_number_at_line_start_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "1. The rate rose by\n2.5 per cent.\n2. Next.\n")
    statement = parse_statement(path, "doc", "en")
    assert statement.paragraphs == {1: "The rate rose by 2.5 per cent.", 2: "Next."}


# --- malformed statement files -----------------------------------------------------------


MALFORMED = [
    ("empty", b"", 1, "empty"),
    ("whitespace-only", b"  \n\t\n   \n", 1, "empty"),
    ("no-numbered-paragraphs", b"A title\nJust prose, no numbers.\n", None, "no numbered"),
    ("gap", b"Title\n1. One.\n2. Two.\n\n4. Four.\n", 5, "paragraph 3 missing"),
    ("duplicate", b"Title\n1. One.\n2. Two.\n2. Two again.\n", 4, "appears again"),
    ("starts-at-2", b"Title\n\n2. Two.\n3. Three.\n", 3, "starts at 2"),
    ("invalid-utf8", b"Title\n1. One.\n2. Tw\xff\xfeo.\n", 3, "UTF-8"),
    ("binary-nul", b"Title\n1. One.\n\x00\x01\x02binary\n", 3, "NUL"),
]


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_statement(
    tmp_path: Path, content: bytes, line: int | None, problem: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(StatementFormatError) as caught:
        parse_statement(path, "doc", "en")
    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert problem in error.problem
    assert str(path) in str(error)
    if line is not None:
        assert f"{path}:{line}:" in str(error)


def test_missing_statement_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.txt"
    with pytest.raises(StatementFormatError, match="cannot read") as caught:
        parse_statement(path, "doc", "en")
    assert caught.value.path == str(path)


def test_empty_paragraph_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "1. One.\n2.\n3. Three.\n")
    with pytest.raises(StatementFormatError, match="paragraph 2 is empty"):
        parse_statement(path, "doc", "en")


# --- the manifest ------------------------------------------------------------------------


def write_manifest(folder: Path, versions: dict[str, str], doc_id: str = "doc") -> Path:
    """A one-document manifest with one statement file per language (text given)."""
    lines = ['[corpus]\nid = "test"\n', f'[[documents]]\nid = "{doc_id}"\n']
    for lang, text in versions.items():
        name = f"{doc_id}.{lang}.txt"
        (folder / name).write_text(text, encoding="utf-8")
        lines.append(f'  [[documents.versions]]\n  lang = "{lang}"\n  file = "{name}"\n')
    manifest = folder / "manifest.toml"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    return manifest


def test_missing_manifest(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ManifestError, match="cannot read manifest") as caught:
        load_corpus(path)
    assert str(path) in str(caught.value)


def test_manifest_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text('[corpus\nid = "x"\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid TOML") as caught:
        load_corpus(path)
    assert str(path) in str(caught.value)


def test_manifest_without_documents(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text('[corpus]\nid = "x"\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="no \\[\\[documents\\]\\]"):
        load_corpus(path)


def test_versions_whose_paragraphs_disagree(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path, {"zh": "1. 一。\n2. 二。\n3. 三。\n", "en": "1. One.\n2. Two.\n"}
    )
    with pytest.raises(ManifestError, match="versions must align") as caught:
        load_corpus(manifest)
    assert "doc.en.txt" in str(caught.value)


def test_manifest_naming_a_bad_file_reports_that_file(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"zh": "1. 一。\n2. 二。\n", "en": "1. One.\n3. Three.\n"})
    with pytest.raises(RetrievalError) as caught:
        load_corpus(manifest)
    assert isinstance(caught.value, StatementFormatError)
    assert caught.value.path == str(tmp_path / "doc.en.txt")
    assert caught.value.line == 2


def test_small_manifest_loads(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path, {"zh": "标题\n1. 一。\n2. 二。\n", "en": "T\n1. One.\n2. Two.\n"}
    )
    corpus = load_corpus(manifest)
    assert corpus.corpus_id == "test"
    assert corpus.primary.numbers == [1, 2]
    assert corpus.primary.text(2, "en") == "Two."
    assert corpus.primary.versions["zh"].title == "标题"

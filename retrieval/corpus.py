"""The corpus manifest: which statements, in which languages, from which files."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from retrieval.errors import ManifestError
from retrieval.parse import Statement, parse_statement


@dataclass(frozen=True)
class Document:
    """One statement with its language versions, aligned by paragraph number."""

    doc_id: str
    source: str
    versions: dict[str, Statement]
    official: dict[str, bool]
    # One line per language saying what the document covers, for "not covered" replies.
    scope: dict[str, str]

    @property
    def languages(self) -> list[str]:
        return list(self.versions)

    @property
    def numbers(self) -> list[int]:
        return next(iter(self.versions.values())).numbers

    @property
    def count(self) -> int:
        return len(self.numbers)

    def text(self, number: int, lang: str) -> str:
        """Paragraph ``number`` in ``lang``, or in the first version if that language is absent."""
        version = self.versions.get(lang) or next(iter(self.versions.values()))
        return version.paragraphs[number]

    def scope_in(self, lang: str) -> str:
        return self.scope.get(lang) or next(iter(self.scope.values()), "")

    def version(self, lang: str) -> Statement:
        return self.versions.get(lang) or next(iter(self.versions.values()))

    def addressed_in(self, lang: str) -> dict[int, str]:
        """Paragraphs in which the submitter speaks to or of its addressee, with the name
        the text gives the addressee there."""
        version = self.version(lang)
        found: dict[int, str] = {}
        for n, text in version.paragraphs.items():
            folded = text.casefold()
            name = next((a for a in version.addressee_names if a.casefold() in folded), None)
            speaks = any(s.casefold() in folded for s in version.speaker_names)
            if name and speaks:
                start = folded.index(name.casefold())
                found[n] = text[start : start + len(name)]
        return found


@dataclass(frozen=True)
class Corpus:
    """Every document the bot answers from; the first one is the statement cited as ¶N."""

    corpus_id: str
    name: str
    documents: tuple[Document, ...]
    manifest_path: str

    @property
    def primary(self) -> Document:
        return self.documents[0]

    def statements(self) -> list[Statement]:
        return [s for doc in self.documents for s in doc.versions.values()]


def default_manifest() -> Path:
    """The manifest shipped inside the package."""
    return Path(str(resources.files("retrieval") / "corpus" / "manifest.toml"))


def corpus_digest(manifest: str | Path | None = None) -> str:
    """SHA-256 over the manifest and every file it names, read as bytes (no parsing): what
    an index was built from, cheap enough to check at every start."""
    path = Path(manifest) if manifest else default_manifest()
    digest = hashlib.sha256()
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from exc
    digest.update(raw)
    for doc in data.get("documents") or []:
        for version in doc.get("versions", []) if isinstance(doc, dict) else []:
            name = version.get("file") if isinstance(version, dict) else None
            if not isinstance(name, str):
                continue
            try:
                content = (path.parent / name).read_bytes()
            except OSError as exc:
                raise ManifestError(f"{path.parent / name}: cannot read: {exc.strerror}") from exc
            digest.update(b"\0" + name.encode() + b"\0")
            digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def _required(table: dict[str, object], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: missing or empty '{key}'")
    return value


def _names(table: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ManifestError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(value)


def load_corpus(manifest: str | Path | None = None, primary_only: bool = False) -> Corpus:
    """Parse the manifest and every statement it names; all or nothing. ``primary_only``:
    only the first document's files (what the bot answers from; the rest is ingest's)."""
    path = Path(manifest) if manifest else default_manifest()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from exc

    meta = data.get("corpus", {})
    corpus_id = _required(meta, "id", f"{path} [corpus]")
    docs_raw = data.get("documents")
    if not isinstance(docs_raw, list) or not docs_raw:
        raise ManifestError(f"{path}: no [[documents]] listed")

    documents = []
    seen_ids: set[str] = set()
    for i, doc in enumerate(docs_raw[:1] if primary_only else docs_raw, start=1):
        where = f"{path} document {i}"
        doc_id = _required(doc, "id", where)
        if doc_id in seen_ids:
            raise ManifestError(f"{where}: document id '{doc_id}' listed twice")
        seen_ids.add(doc_id)
        versions: dict[str, Statement] = {}
        official: dict[str, bool] = {}
        scope: dict[str, str] = {}
        for version in doc.get("versions", []):
            lang = _required(version, "lang", f"{where} version")
            if lang in versions:
                raise ManifestError(f"{where}: language '{lang}' listed twice")
            file = path.parent / _required(version, "file", f"{where} version {lang}")
            parsed = parse_statement(file, doc_id, lang)
            versions[lang] = Statement(
                doc_id=doc_id,
                lang=lang,
                title=str(version.get("title") or parsed.title),
                submitter=str(version.get("submitter") or parsed.submitter),
                paragraphs=parsed.paragraphs,
                source=parsed.source,
                note=str(version.get("note") or parsed.note),
                header=parsed.header,
                addressee=str(version.get("addressee", "")),
                addressee_names=_names(version, "addressee_names", f"{where} version {lang}"),
                speaker_names=_names(version, "speaker_names", f"{where} version {lang}"),
            )
            official[lang] = bool(version.get("official", False))
            if version.get("scope"):
                scope[lang] = str(version["scope"])
        if not versions:
            raise ManifestError(f"{where}: no [[documents.versions]] listed")
        first = next(iter(versions.values()))
        for statement in versions.values():
            if statement.numbers != first.numbers:
                raise ManifestError(
                    f"{statement.source}: paragraphs {statement.numbers[0]}-"
                    f"{statement.numbers[-1]} do not match {first.source} "
                    f"({first.numbers[0]}-{first.numbers[-1]}); versions must align"
                )
        documents.append(Document(doc_id, str(doc.get("source", "")), versions, official, scope))
    return Corpus(corpus_id, str(meta.get("name", corpus_id)), tuple(documents), str(path))

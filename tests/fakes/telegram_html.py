"""Telegram-flavoured HTML (``parse_mode=HTML``) as Telegram parses it: plain text and
entities, and every problem Telegram would reject (or silently mangle)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

JSONDict = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


_HTML_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-time": "date_time",
}
_HTML_ALLOWED_ATTRS: dict[str, set[str]] = {
    "a": {"href"},
    "span": {"class"},
    "tg-emoji": {"emoji-id"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-time": {"unix", "format"},
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass
class _OpenTag:
    tag: str
    offset: int
    entity: JSONDict | None


class TelegramHTML(HTMLParser):
    """Parses Telegram-flavoured HTML into plain text + entities, noting every problem
    (unsupported tag or attribute, bad nesting, unclosed tag, unescaped ``<``/``>``/``&``,
    unsupported named entity)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.entities: list[JSONDict] = []
        self._parts: list[str] = []
        self._u16 = 0
        self._stack: list[_OpenTag] = []

    @classmethod
    def parse(cls, text: str) -> TelegramHTML:
        parser = cls()
        parser.feed(text)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _emit(self, data: str) -> None:
        self._parts.append(data)
        self._u16 += utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        open_tags = [t.tag for t in self._stack]
        entity: JSONDict | None = None
        if tag not in _HTML_TAG_ENTITY:
            self.problems.append(f"unsupported tag <{tag}>")
        else:
            allowed = _HTML_ALLOWED_ATTRS.get(tag, set())
            for name in attr:
                if name not in allowed:
                    self.problems.append(f'unsupported attribute "{name}" in <{tag}>')
            entity = {"type": _HTML_TAG_ENTITY[tag]}
            if tag == "span" and attr.get("class") != "tg-spoiler":
                self.problems.append('<span> needs class="tg-spoiler"')
            elif tag == "a":
                if not attr.get("href"):
                    self.problems.append("<a> without href")
                entity["url"] = attr.get("href") or ""
            elif tag == "tg-emoji":
                if not attr.get("emoji-id"):
                    self.problems.append("<tg-emoji> without emoji-id")
                entity["custom_emoji_id"] = attr.get("emoji-id") or ""
            elif tag == "blockquote":
                if "blockquote" in open_tags:
                    self.problems.append("<blockquote> nested in <blockquote>")
                if "expandable" in attr:
                    entity["type"] = "expandable_blockquote"
            elif tag == "code" and attr.get("class"):
                language = str(attr["class"])
                if not language.startswith("language-") or open_tags[-1:] != ["pre"]:
                    self.problems.append('<code class="language-..."> only directly in <pre>')
            if tag == "code" and open_tags[-1:] == ["pre"]:
                pre = self._stack[-1].entity
                if pre is not None and attr.get("class"):
                    pre["language"] = str(attr["class"]).removeprefix("language-")
                entity = None  # merged into the <pre> entity
            elif {"code", "pre"} & set(open_tags):
                self.problems.append(f"<{tag}> nested in <code>/<pre>")
        self._stack.append(_OpenTag(tag, self._u16, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"unsupported self-closing tag <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not any(t.tag == tag for t in self._stack):
            self.problems.append(f"unexpected end tag </{tag}>")
            return
        while self._stack:
            top = self._stack.pop()
            if top.tag != tag:
                self.problems.append(f"end tag </{tag}> does not match open tag <{top.tag}>")
                continue
            if top.entity is not None and self._u16 > top.offset:
                self.entities.append(
                    {**top.entity, "offset": top.offset, "length": self._u16 - top.offset}
                )
            return

    def handle_data(self, data: str) -> None:
        for char, name in (("<", "<"), (">", ">"), ("&", "&")):
            if char in data:
                self.problems.append(f"unescaped '{name}' (use &lt; &gt; &amp;)")
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        if name in _HTML_NAMED_ENTITIES:
            self._emit(_HTML_NAMED_ENTITIES[name])
        else:
            self.problems.append(f"unsupported named entity &{name};")
            self._emit(f"&{name};")

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._emit(chr(code))
        except (ValueError, OverflowError):
            self.problems.append(f"bad numeric entity &#{name};")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not supported")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"unsupported declaration <!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"unsupported declaration <![{data}]>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"unsupported processing instruction <?{data}>")

    def close(self) -> None:
        super().close()
        for open_tag in reversed(self._stack):
            self.problems.append(f"unclosed tag <{open_tag.tag}>")
        self._stack.clear()
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))


def check_html(text: str) -> list[str]:
    """Problems of ``text`` as Telegram HTML (empty list when it is fine)."""
    return TelegramHTML.parse(text).problems


def _markdown_plain(text: str, v2: bool) -> str:
    """Approximate text of a Markdown/MarkdownV2 message after entity parsing."""
    text = re.sub(r"\[((?:\\.|[^\]\\])*)\]\((?:\\.|[^)\\])*\)", r"\1", text)
    markers = "*_~|`" if v2 else "*_`"
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and v2 and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char not in markers:
            out.append(char)
        i += 1
    return "".join(out)


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram shows after entity parsing (exact for HTML, approximate else)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return TelegramHTML.parse(text).text
    if mode in ("markdown", "markdownv2"):
        return _markdown_plain(text, mode == "markdownv2")
    return text

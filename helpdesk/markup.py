"""The reply box's light formatting: a small Markdown-like syntax to HTML and
to readable plain text.

    **bold** or __bold__     *italic* or _italic_     `code`
    - item / * item          1. item                  [text](https://...)
    ![name](paste-1a2b.png)  an image uploaded with the reply (inline)

The toolbar (static/js/reply-editor.js) only types this syntax, so the box
works the same as a plain textarea without JavaScript. The HTML is built from
escaped text and then goes through mailgateway.sanitize like any mail's HTML;
a reply without formatting stays plain text (no HTML at all).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mailgateway.sanitize import SanitizeError, sanitize_html

_INLINE = re.compile(
    r"""
      (?P<image>!\[(?P<alt>[^\]\n]*)\]\((?P<src>[^()\s]+)\))
    | (?P<link>\[(?P<label>[^\]\n]+)\]\((?P<href>[^()\s]+)\))
    | (?P<url>\b(?:https?://|mailto:)[^\s<>()]*[^\s<>().,;:!?'"])
    | \*\*(?=\S)(?P<bold>.+?)(?<=\S)\*\*
    | (?<!\w)__(?=\S)(?P<bold2>.+?)(?<=\S)__(?!\w)
    | \*(?=[^\s*])(?P<em>.+?)(?<=[^\s*])\*
    | (?<!\w)_(?=[^\s_])(?P<em2>.+?)(?<=[^\s_])_(?!\w)
    | `(?P<code>[^`\n]+)`
    """,
    re.VERBOSE,
)
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s{0,3}(\d{1,9})[.)]\s+(.*)$")
_SAFE_HREF = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


@dataclass(frozen=True)
class Formatted:
    text: str  # readable plain text: the text part of the mail, search, notices
    html: str  # sanitised HTML, "" when the reply has no formatting
    images: frozenset[str]  # names of the inline images the text shows


class _Inline:
    """Inline markup of one line to (html, text); remembers what it used."""

    def __init__(self, images: Mapping[str, str]) -> None:
        self.images = images  # uploaded file name -> Content-ID
        self.used: set[str] = set()
        self.formatted = False

    def render(self, line: str) -> tuple[str, str]:
        out_html: list[str] = []
        out_text: list[str] = []
        at = 0
        for match in _INLINE.finditer(line):
            out_html.append(html.escape(line[at : match.start()], quote=False))
            out_text.append(line[at : match.start()])
            piece = self._piece(match)
            if piece is None:  # not ours to format (an unknown image, a script link)
                piece = (html.escape(match.group(0), quote=False), match.group(0))
            out_html.append(piece[0])
            out_text.append(piece[1])
            at = match.end()
        out_html.append(html.escape(line[at:], quote=False))
        out_text.append(line[at:])
        return "".join(out_html), "".join(out_text)

    def _piece(self, match: re.Match[str]) -> tuple[str, str] | None:
        group = match.groupdict()
        if group["image"]:
            name = group["src"]
            cid = self.images.get(name)
            if cid is None:
                return None
            self.used.add(name)
            self.formatted = True
            alt = group["alt"] or name
            return (
                f'<img src="cid:{html.escape(cid)}" alt="{html.escape(alt)}">',
                f"[{alt}]",
            )
        if group["link"]:
            href = group["href"]
            if not _SAFE_HREF.match(href):
                return None
            self.formatted = True
            label_html, label_text = self.render(group["label"])
            text = href if label_text == href else f"{label_text} <{href}>"
            return f'<a href="{html.escape(href)}">{label_html}</a>', text
        if group["url"]:
            url = group["url"]  # a bare address is not formatting: mail clients link it too
            return f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>', url
        for key, tag, mark in (
            ("bold", "strong", "*"),
            ("bold2", "strong", "*"),
            ("em", "em", "_"),
            ("em2", "em", "_"),
        ):
            if group[key]:
                self.formatted = True
                inner_html, inner_text = self.render(group[key])
                return f"<{tag}>{inner_html}</{tag}>", f"{mark}{inner_text}{mark}"
        self.formatted = True
        code = group["code"]
        return f"<code>{html.escape(code, quote=False)}</code>", code


def format_reply(source: str, *, images: Mapping[str, str] | None = None) -> Formatted:
    """The reply as plain text and HTML. images maps the names of files
    uploaded as inline images to their Content-IDs."""
    inline = _Inline(images or {})
    html_blocks: list[str] = []
    text_blocks: list[str] = []
    paragraph: list[tuple[str, str]] = []
    items: list[tuple[str, str]] = []
    list_kind = ""  # "ul" or "ol"
    start = 1
    has_list = False

    def close() -> None:
        nonlocal list_kind
        if paragraph:
            html_blocks.append("<p>" + "<br>".join(h for h, _t in paragraph) + "</p>")
            text_blocks.append("\n".join(t for _h, t in paragraph))
            paragraph.clear()
        if items:
            attrs = f' start="{start}"' if list_kind == "ol" and start != 1 else ""
            body = "".join(f"<li>{h}</li>" for h, _t in items)
            html_blocks.append(f"<{list_kind}{attrs}>{body}</{list_kind}>")
            marks = (
                [f"{start + i}." for i in range(len(items))]
                if list_kind == "ol"
                else ["-"] * len(items)
            )
            text_blocks.append(
                "\n".join(f"{m} {t}" for m, (_h, t) in zip(marks, items, strict=True))
            )
            items.clear()
        list_kind = ""

    for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        bullet, number = _BULLET.match(line), _NUMBER.match(line)
        if not line.strip():
            close()
        elif bullet or number:
            kind = "ul" if bullet else "ol"
            if paragraph or kind != list_kind:
                close()
            if not items:
                list_kind = kind
                start = int(number.group(1)) if number else 1
            has_list = True
            content = bullet.group(1) if bullet else number.group(2) if number else ""
            items.append(inline.render(content))
        else:
            if items:
                close()
            paragraph.append(inline.render(line.rstrip()))
    close()
    text = "\n\n".join(text_blocks)
    if not (inline.formatted or has_list):
        return Formatted(text=source.strip(), html="", images=frozenset())
    try:
        clean = sanitize_html("\n".join(html_blocks))
    except SanitizeError:
        # Failed closed, like a mail's HTML: the text alone is stored.
        return Formatted(text=text, html="", images=frozenset())
    return Formatted(text=text, html=clean, images=frozenset(inline.used))

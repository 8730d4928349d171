"""The one HTML allowlist for mail bodies, and the HTML-to-text fallback.

bleach is deprecated (security fixes only), so everything about it lives
behind sanitize_html(): swapping in nh3 later touches this file only.

Why the extra steps around bleach.clean():
* strip=True keeps the *text* inside <script>, <style>, <title>, so those
  elements (and svg/math, which enable mutation XSS, CVE-2020-6816) are parsed
  as elements and removed whole before the allowlist runs;
* remote images are never loaded by just opening a ticket (tracking pixels,
  B6): <img src="https://..."> becomes <img data-src="https://..."> and the
  viewer may opt in;
* inline images stay as <img data-cid="<content-id>">: the Content-ID is
  stored on the Attachment row, and the web layer, which knows the
  attachment's download URL and the viewer's rights, fills in src. We do not
  bake /attachments/<id>/ URLs into stored HTML because attachment rows are
  created after the body is sanitised and may move with the message.
Failing closed: any error raises SanitizeError; callers then store no HTML
(the text version is always stored), never the unsanitised input.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from bleach import html5lib_shim
from bleach.sanitizer import BleachSanitizerFilter

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
        "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip
# Removed with everything inside them.
DROPPED_TAGS = frozenset(
    {
        "script", "style", "title", "head", "noscript", "template", "iframe", "frame",
        "frameset", "object", "embed", "applet", "svg", "math", "textarea", "select",
        "option", "xmp", "noembed", "noframes", "plaintext", "form", "button", "meta",
        "link", "base", "input",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, list[str]] = {
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["colspan", "rowspan", "align", "valign"],
    "th": ["colspan", "rowspan", "align", "valign"],
    "col": ["span"],
    "font": ["color"],
    "abbr": ["title"],
    "ol": ["start", "type"],
    "p": ["align", "dir"],
    "div": ["align", "dir"],
    "blockquote": ["cite"],
}
# cid: only survives as data-cid on images (rewritten below).
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "cid"})
MAX_HTML_CHARS = 2_000_000
# html5lib costs per element, and per element times the depth of the open
# elements (its scope checks walk that stack): the B3 suite found a
# 100,000-element body taking 4 s to sanitise (and again on every view of
# the ticket) and 10,000 nested <div>s 4 s before the RecursionError that
# fails them anyway (at about 900 levels). Bodies past these are refused
# before parsing, in milliseconds; the text version is stored as always.
# 15,000 elements (a long Outlook thread has a few thousand) cost about a
# second at ingest and again per view; 25,000 took 4.5 s on a loaded box.
MAX_HTML_ELEMENTS = 15_000
MAX_HTML_DEPTH = 500
_START_OR_END = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
# Void elements and those whose end tag is optional: they add no depth.
_FLAT = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "tbody", "thead",
        "tfoot", "colgroup", "option", "optgroup", "rt", "rp",
    }
)  # fmt: skip


class SanitizeError(Exception):
    pass


_parser = html5lib_shim.BleachHTMLParser(
    tags=ALLOWED_TAGS | DROPPED_TAGS,
    strip=True,
    consume_entities=False,
    namespaceHTMLElements=False,
)
_walker = html5lib_shim.getTreeWalker("etree")
_serializer = html5lib_shim.BleachHTMLSerializer(
    quote_attr_values="always",
    omit_optional_tags=False,
    escape_lt_in_attrs=True,
    resolve_entities=False,
    sanitize=False,
    alphabetical_attributes=False,
)


def _tag(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # comments, processing instructions
    return tag.rsplit("}", 1)[-1].lower()


def _drop_whole(parent: ET.Element) -> None:
    """Remove DROPPED_TAGS elements with their content, keeping following text."""
    children = list(parent)
    previous: ET.Element | None = None
    for child in children:
        if _tag(child) in DROPPED_TAGS:
            tail = child.tail or ""
            parent.remove(child)
            if tail:
                if previous is None:
                    parent.text = (parent.text or "") + tail
                else:
                    previous.tail = (previous.tail or "") + tail
            continue
        _drop_whole(child)
        previous = child


_URL_JUNK = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_SCHEME = re.compile(r"^(https?|mailto|cid):", re.I)


def _scheme_ok(value: str) -> bool:
    # bleach's own check lets "javascript:1" through (its URL parser reads a
    # numeric "port" as no scheme): demand an explicit allowed scheme, after
    # decoding entities and dropping the characters browsers ignore.
    normalized = _URL_JUNK.sub("", html5lib_shim.convert_entities(value))
    return bool(_SCHEME.match(normalized))


def _rewrite(stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """After the allowlist: images not loaded, links that cannot reach back."""
    for token in stream:
        if token["type"] in ("StartTag", "EmptyTag"):
            name = token["name"]
            data = dict(token.get("data") or {})
            for key in ((None, "href"), (None, "src"), (None, "cite")):
                if key in data and not _scheme_ok(str(data[key])):
                    del data[key]
            if name == "img":
                src = str(data.pop((None, "src"), "")).strip()
                if src.lower().startswith("cid:"):
                    data[(None, "data-cid")] = src[4:].strip("<> ")
                elif src:
                    data[(None, "data-src")] = src
            elif name == "a":
                href = str(data.get((None, "href"), ""))
                if href.lower().startswith("cid:"):
                    data.pop((None, "href"), None)
                elif href:
                    data[(None, "rel")] = "noopener noreferrer nofollow"
            token = {**token, "data": data}
        yield token


def sanitize_html(text: str) -> str:
    """Mail HTML reduced to the allowlist. Raises SanitizeError, never returns input as-is."""
    if not text:
        return ""
    if len(text) > MAX_HTML_CHARS:
        raise SanitizeError("HTML body too large to sanitise")
    _check_shape(text)
    try:
        dom = _parser.parseFragment(text)
        _drop_whole(dom)
        filtered = BleachSanitizerFilter(
            source=_walker(dom),
            allowed_tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            strip_disallowed_tags=True,
            strip_html_comments=True,
            css_sanitizer=None,
            allowed_protocols=ALLOWED_PROTOCOLS,
        )
        return str(_serializer.render(_rewrite(iter(filtered)))).strip()
    except RecursionError as exc:
        raise SanitizeError("HTML nested too deeply") from exc
    except Exception as exc:
        raise SanitizeError(f"{type(exc).__name__}: {exc}") from exc


def _check_shape(text: str) -> None:
    """Raise SanitizeError for more than MAX_HTML_ELEMENTS start tags or a
    nesting deeper than MAX_HTML_DEPTH, counted on the tags as written (a
    tag inside a comment counts too: it only errs towards refusing)."""
    elements = depth = 0
    for match in _START_OR_END.finditer(text):
        name = match.group(2).lower()
        if match.group(1):
            if name not in _FLAT and depth:
                depth -= 1
            continue
        elements += 1
        if elements > MAX_HTML_ELEMENTS:
            raise SanitizeError(f"HTML body of more than {MAX_HTML_ELEMENTS} elements")
        if name not in _FLAT:
            depth += 1
            if depth > MAX_HTML_DEPTH:
                raise SanitizeError("HTML nested too deeply")


_BLOCK = frozenset(
    {
        "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
        "pre", "table", "hr", "ul", "ol", "dl", "dt", "dd", "section", "article", "header",
        "footer",
    }
)  # fmt: skip
_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "math"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "img" and not self.skip:
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


_SPACES = re.compile(r"[ \t\xa0]+")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")


def html_to_text(text: str) -> str:
    """Readable plain text from mail HTML (for HTML-only mail)."""
    if not text:
        return ""
    extractor = _TextExtractor()
    try:
        extractor.feed(text[:MAX_HTML_CHARS])
        extractor.close()
        out = "".join(extractor.parts)
    except Exception:
        out = re.sub(r"<[^>]*>", " ", html.unescape(text[:MAX_HTML_CHARS]))
    lines = [_SPACES.sub(" ", line).strip() for line in out.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


_DATA_CID = re.compile(r'\bdata-cid="([^"]*)"')


def fill_inline_images(clean: str, sources: dict[str, str], *, style: str = "") -> str:
    """Sanitised HTML with each inline image's data-cid turned into a src:
    sources maps a Content-ID to the URL to show (a download URL, or cid:<id>
    in a mail); style, our own, goes on those images. Images with no source
    stay unloaded."""
    extra = f' style="{html.escape(style)}"' if style else ""

    def swap(match: re.Match[str]) -> str:
        url = sources.get(html.unescape(match.group(1)))
        return f'src="{html.escape(url)}"{extra}' if url else match.group(0)

    return _DATA_CID.sub(swap, clean) if sources else clean


def sanitize_stored(clean: str) -> str:
    """HTML sanitised when stored, sanitised again as it is shown: its inline
    images (data-cid, which the allowlist itself does not pass) survive."""
    return sanitize_html(_DATA_CID.sub(lambda m: f'src="cid:{m.group(1)}"', clean))

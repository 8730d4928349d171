"""Bytes in, a frozen InboundEmail out. The only importer of mail-parser.

mail-parser (compat32 underneath) measured faster than the standard library's
policy.default on the benchmark corpus (536 vs 370 mails/s), so it does the
MIME walk and the body decoding. Some things are done here with the standard
library instead, because mail-parser gets them wrong for our purpose:

* charsets are read as browsers and mail clients read them (decode_bytes:
  WHATWG labels, gb2312 as GB18030, ISO-2022-JP with the NEC/IBM rows), and
  undeclared 8-bit bytes as UTF-8, then in the charset the mail's body
  declares, then guessed, then Windows-1252; never an exception;
* headers and attached file names are decoded by _decode_header with that
  chain (RFC 2047 words in any charset, raw 8-bit bytes);
* a text part whose charset mail-parser could not apply (unknown or lying
  declaration) or would read narrower than mail clients do is decoded again
  with that chain, because mail-parser's last resort is UTF-8 with
  replacement characters, which turns every accented letter into U+FFFD;
* a header block the parser would end too early (a stray first line, a fold
  that lost its indentation) is mended first (repair_header_block), and a
  mail with no usable From lists the headers that may stand in for it
  (with_fallback_sender chooses, for a person's mail only).

Only mail that needs one of these pays for it: ordinary UTF-8 and Latin-1
mail with a well-formed header block takes mail-parser's result as it is.

Large base64 attachments are the exception to "mail-parser parses": their
bodies are cut out and decoded from the raw bytes first (lift_base64_bodies),
and mail-parser walks what is left; the result is the same, at a fraction of
the cost (see the comment above LIFT_MIN_BYTES).

Nothing in here may raise on hostile input except RecursionError-like
structure bombs (MailParserRecursionError), which the caller quarantines.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import email.header
import email.utils
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message as StdMessage
from email.parser import BytesHeaderParser
from types import MappingProxyType
from typing import Any

import mailparser
from mailparser.utils import decode_header_part, mime_header_view

# mail-parser logs a warning for every part type it does not render
# (text/rfc822-headers in every DSN): noise, not news.
logging.getLogger("mailparser").setLevel(logging.ERROR)

# Caps that keep hostile mail bounded (B3): a header with 100,000 addresses
# must not cost minutes, a References chain of thousands of ids must not
# become thousands of SQL parameters.
MAX_ADDRESSES = 200
MAX_HEADER_CHARS = 64 * 1024
MAX_REFERENCES = 50

# Headers classification and trust decisions read, kept verbatim (decoded).
KEPT_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-loop",
    "return-path",
    "authentication-results",
    "x-failed-recipients",
    "x-mailer",
    "user-agent",
)

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_C1_RE = re.compile(r"[\x80-\x9f]")
_MSGID_RE = re.compile(r"<([^<>\s]{1,250})>")


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Text safe to store and show: CRLF/CR to LF, no C0 controls except tab and
    newline, no lone surrogates; one line (whitespace collapsed) for headers."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _C1_RE.search(text):
        text = _C1_RE.sub(lambda m: _cp1252_char(m.group()), text)
    text = _CONTROL_RE.sub("", text)
    if single_line:
        text = " ".join(text.split())
    return text


def _cp1252_char(ch: str) -> str:
    # Mail declared ISO-8859-1 is nearly always Windows-1252 (smart quotes,
    # euro sign in 0x80-0x9f): what browsers do too (WHATWG Encoding).
    try:
        return bytes([ord(ch)]).decode("cp1252")
    except UnicodeDecodeError:
        return ""


# Charset labels as browsers and mature mail clients read them (the WHATWG
# Encoding Standard's label table, where Python's codec of the same name is
# narrower): mailers declare the old standard and send its vendor superset.
_WHATWG_CODECS = {
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "iso_8859-1", "latin-1", "latin1", "l1", "cp819",
         "ibm819", "us-ascii", "ascii", "ansi_x3.4-1968", "iso-ir-100", "x-cp1252",
         "windows-1252", "cp1252"),
        "cp1252",
    ),
    **dict.fromkeys(
        ("gb2312", "gb_2312", "gb_2312-80", "csgb2312", "chinese", "x-gbk", "gbk", "cp936",
         "ms936", "windows-936", "euc-cn", "x-euc-cn", "iso-ir-58", "gb18030"),
        "gb18030",
    ),
    **dict.fromkeys(
        ("ks_c_5601-1987", "ks_c_5601-1989", "ks_c_5601", "ksc5601", "ksc_5601", "korean",
         "euc-kr", "cseuckr", "csksc56011987", "iso-ir-149", "windows-949", "cp949"),
        "cp949",
    ),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j",
         "cp932", "ms932", "x-ms-cp932"),
        "cp932",
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"),
    **dict.fromkeys(
        ("utf8", "utf-8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"),
        "utf-8",
    ),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "latin5", "l5", "windows-1254"), "cp1254"),
    **dict.fromkeys(("iso-8859-11", "tis-620", "windows-874", "dos-874"), "cp874"),
    "iso-2022-jp": "iso-2022-jp",
    "csiso2022jp": "iso-2022-jp",
    "iso-2022-jp-ms": "iso-2022-jp",
}  # fmt: skip
# Labels that say nothing: the bytes are treated as undeclared.
_NO_CHARSET = frozenset({"", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "binary"})
# Single-byte "Latin" declarations whose bytes are, when they are valid UTF-8
# with anything non-ASCII in it, UTF-8 mislabelled (a valid multi-byte UTF-8
# sequence is vanishingly rare in real Windows-1252 text).
_UTF8_SUSPECT = frozenset({"cp1252"})
# The codecs a guess may pick: charset-normalizer's full list lets short
# Portuguese text come out as Central European, the languages we see do not.
_GUESSES = ["gb18030", "big5", "cp932", "cp949", "cp1251", "koi8_r", "cp1253", "cp1252"]
GUESS_MIN_BYTES = 16
# 7-bit or wide charsets: ASCII bytes in them are not ASCII text.
_STATEFUL = ("utf-7", "unicode-1-1-utf-7", "iso-2022", "hz", "utf-16", "utf-32", "x-")


def charset_codec(charset: str | None) -> str:
    """The codec to decode a declared charset with, "" for no declaration."""
    cs = (charset or "").strip().strip("\"'").lower()
    if cs in _NO_CHARSET:
        return ""
    return _WHATWG_CODECS.get(cs, cs)


def decode_bytes(data: bytes, charset: str | None, *, hint: str = "") -> str:
    """Text from bytes, never failing. The declared charset (read as WHATWG
    labels) if it decodes; undeclared or lying bytes as UTF-8, else in the
    hint charset (the one the rest of the mail declares), else guessed,
    else Windows-1252."""
    codec = charset_codec(charset)
    if codec and data.isascii() and not codec.startswith(_STATEFUL):
        return data.decode("ascii")
    if codec in _UTF8_SUSPECT:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")  # 0x81, 0x8d, 0x8f, 0x90, 0x9d
    if codec:
        text = _decode_as(data, codec)
        if text is not None:
            return text
    return _decode_undeclared(data, hint=charset_codec(hint))


def _decode_as(data: bytes, codec: str) -> str | None:
    if codec == "iso-2022-jp":
        return decode_iso2022jp(data)
    try:
        return data.decode(codec)
    except (LookupError, UnicodeError, ValueError):
        return None


def _decode_undeclared(data: bytes, *, hint: str = "") -> str:
    # Old Japanese mailers send ISO-2022-JP undeclared: it is 7-bit, so it
    # would pass for ASCII (and UTF-8) with its escapes left in.
    if b"\x1b$" in data:
        text = decode_iso2022jp(data)
        if text is not None:
            return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if hint and hint != "utf-8":
        text = _decode_as(data, hint)
        if text is not None:
            return text
    if len(data) >= GUESS_MIN_BYTES:
        guessed = _guess(data)
        if guessed is not None:
            return guessed
    return data.decode("cp1252", "replace")


def _guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data[:20000], cp_isolation=_GUESSES).best()
    except Exception:
        return None
    if best is None or not best.encoding:
        return None
    return _decode_as(data, best.encoding)


_ISO2022JP_ESC_RE = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJI])")


def decode_iso2022jp(data: bytes) -> str | None:
    """ISO-2022-JP as WHATWG and mail clients read it: the JIS X 0208 rows
    with the NEC (row 13: ①, ㈱) and IBM extensions (rows 89-92) that
    Windows mailers send, which Python's iso2022_jp codecs refuse. Each
    two-byte run is moved to Shift_JIS arithmetically and decoded as cp932,
    Windows' own superset. None when the bytes are not ISO-2022-JP."""
    out: list[str] = []
    mode = b"(B"
    pos = 0
    for match in [*_ISO2022JP_ESC_RE.finditer(data), None]:
        chunk = data[pos : match.start() if match else len(data)]
        if chunk:
            text = _iso2022jp_run(chunk, mode)
            if text is None:
                return None
            out.append(text)
        if match is None:
            break
        mode, pos = match.group(1), match.end()
    return "".join(out)


def _iso2022jp_run(chunk: bytes, mode: bytes) -> str | None:
    if mode in (b"(B", b"(J"):  # ASCII, JIS-Roman (read as ASCII, as browsers do)
        return chunk.decode("ascii", "replace")
    if mode == b"(I":  # half-width katakana: Shift_JIS has them at 0xA1-0xDF
        return bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk).decode("cp932", "replace")
    if mode == b"$(D":  # JIS X 0212: rare, and Python's codec knows it
        return (b"\x1b$(D" + chunk + b"\x1b(B").decode("iso2022_jp_2", "replace")
    sjis = bytearray()
    pos = 0
    while pos < len(chunk):
        j1 = chunk[pos]
        if j1 in (0x0A, 0x0D):  # a line end inside a run: tolerated
            sjis.append(j1)
            pos += 1
            continue
        j2 = chunk[pos + 1] if pos + 1 < len(chunk) else 0
        if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
            return None
        s1 = ((j1 + 1) >> 1) + (0x70 if j1 < 0x5F else 0xB0)
        s2 = j2 + (0x1F if j1 % 2 else 0x7E)
        sjis += bytes((s1, s2 + 1 if j1 % 2 and s2 >= 0x7F else s2))
        pos += 2
    return bytes(sjis).decode("cp932", "replace")


def _decode_header(value: Any, *, limit: int = MAX_HEADER_CHARS, hint: str = "") -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit tolerated
    (read as UTF-8, else in hint, the charset the mail's body declares)."""
    if value is None:
        return ""
    raw = _unescape_surrogates(str(value)[:limit], hint=hint)
    try:
        chunks = email.header.decode_header(raw)
    except Exception:
        chunks = [(raw, None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset, hint=hint))
        elif "\x1b$" in chunk:  # undeclared ISO-2022-JP, see _decode_undeclared
            out.append(decode_bytes(chunk.encode("utf-8", "surrogateescape"), None, hint=hint))
        else:
            out.append(_unescape_surrogates(chunk, hint=hint))
    return "".join(out)


def _unescape_surrogates(text: str, *, hint: str = "") -> str:
    # compat32 keeps raw 8-bit header bytes as surrogate escapes.
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None, hint=hint)


def normalize_message_id(value: str) -> str:
    """The id between the first <...>, else the trimmed value; no brackets, <= 250 chars."""
    match = _MSGID_RE.search(value)
    found = match.group(1) if match else value.strip()
    return "".join(found.split())[:250]


def message_ids(value: str) -> tuple[str, ...]:
    # An id holding undecodable bytes (surrogate escapes of raw 8-bit) or
    # control characters can match none of ours, and no database takes a
    # surrogate as a query parameter: left out. The fuzzer (tests/fuzz) found
    # it: a mutated References header quarantined the whole mail.
    return tuple(m.group(1) for m in _MSGID_RE.finditer(value) if m.group(1).isprintable())


_RAW_MSGID_RE = re.compile(rb"^message-id[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")


def raw_message_id(raw: bytes) -> str:
    """The Message-ID from the raw header block, without parsing the mail
    (the store step needs it before anything else runs)."""
    end = _HEADER_END_RE.search(raw)
    head = raw[: end.start()] if end else raw[: 1 << 20]
    match = _RAW_MSGID_RE.search(head)
    if not match:
        return ""
    return clean_text(normalize_message_id(match.group(1).decode("ascii", "replace")))


_IDENTITY_HEADERS = (b"from", b"date", b"subject", b"to", b"cc")
_IDENTITY_RE = re.compile(
    rb"^(from|date|subject|to|cc)[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M
)
_TRAILING_SPACE = b" \t\r\n\x0b\x0c"  # what bytes.rstrip() strips


def content_digest(raw: bytes) -> str:
    """A hash of what stays the same when one mail travels different paths:
    the body and the author's own headers, line endings normalised. The trace
    headers each hop adds (Received, Delivered-To, Return-Path, DKIM/ARC,
    Authentication-Results) are left out, so the copy fetched by IMAP and the
    copy delivered over SMTP or to a second mailbox hash alike, while two
    different mails that reuse one Message-ID (broken mailers do) do not."""
    end = _HEADER_END_RE.search(raw)
    head = raw[: end.start()] if end else raw[: 1 << 20]
    found: dict[bytes, bytes] = {}
    for match in _IDENTITY_RE.finditer(head):  # the first of each, in one pass
        found.setdefault(match.group(1).lower(), match.group(2))
    digest = hashlib.sha256()
    for name in _IDENTITY_HEADERS:
        digest.update(b" ".join(found.get(name, b"").split()) + b"\0")
    start = end.end() if end else len(raw)
    body = raw
    if raw.find(b"\r", start) >= 0:  # one-byte search: memchr, 10x a two-byte one
        body, start = raw[start:].replace(b"\r\n", b"\n"), 0
    stop = len(body)
    while stop > start and body[stop - 1] in _TRAILING_SPACE:
        stop -= 1
    digest.update(memoryview(body)[start:stop])  # hashed in place, not copied
    return digest.hexdigest()


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # lower-cased addr-spec, "" when unparseable

    def __str__(self) -> str:
        return self.email


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""  # without <>
    is_inline: bool = False


@dataclass(frozen=True)
class DeliveryStatus:
    """One recipient block of an RFC 3464 delivery-status report."""

    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class InboundEmail:
    subject: str
    from_: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: datetime | None
    text: str
    html: str
    attachments: tuple[InboundAttachment, ...]
    content_type: str
    report_type: str
    delivery_status: tuple[DeliveryStatus, ...]
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    defects: tuple[str, ...] = ()
    # Message-IDs of the mails attached whole (message/rfc822) or by their
    # headers (text/rfc822-headers): what a bounce returns.
    attached_message_ids: tuple[str, ...] = ()
    # Which header from_ came from: "from", "from#2" when an earlier From
    # held no address, or (after with_fallback_sender) "reply-to", "sender",
    # "return-path", "envelope".
    from_header: str = "from"
    # When no From holds an address: (header, address) of the headers that
    # may stand in for it, in the order they are tried. The classifier still
    # sees the empty From (a bounce's "Mail Delivery System <>").
    sender_fallbacks: tuple[tuple[str, Address], ...] = ()
    from_display: str = ""  # the first From's display name, even with no address

    def header(self, name: str) -> str:
        """The first (topmost) value of a kept header, "" when absent."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""

    @property
    def sender(self) -> str:
        return self.from_.email if self.from_ else ""

    def recipients(self) -> tuple[str, ...]:
        """Every address the mail names as recipient (To, Cc, Delivered-To)."""
        seen: dict[str, None] = {}
        for addr in (*self.to, *self.cc):
            if addr.email:
                seen.setdefault(addr.email, None)
        for email_ in self.delivered_to:
            seen.setdefault(email_, None)
        return tuple(seen)


# A bare ISO-2022-JP run in an address header (old Japanese mailers write
# display names so, undeclared): its closing escape, ESC ( B, opens an RFC 5322
# comment for the address parser, which then reads the name as the address
# (the B9 suite found such a From quarantined: "no usable From address").
_ISO2022JP_RUN_RE = re.compile(r"\x1b\$[@B][^\x1b]*(?:\x1b\([BJ])?")


def _iso2022jp_runs_decoded(value: str) -> str:
    """value with its ISO-2022-JP runs decoded; the rest (RFC 2047 words,
    quotes, commas) left for the address parser."""
    if "\x1b" not in value:
        return value

    def run(match: re.Match[str]) -> str:
        text = decode_iso2022jp(match.group().encode("utf-8", "surrogateescape"))
        return match.group() if text is None else text

    return _ISO2022JP_RUN_RE.sub(run, value)


# RFC 2047 words outside quotes in an address header, adjacent ones as one run.
_ENCODED_RUN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"|(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*)'
)


def _encoded_words_quoted(value: str, hint: str) -> str:
    """value with each run of RFC 2047 words (outside quotes) decoded into a
    quoted string. The address parser (compat32's getaddresses) reads an
    encoded word as plain text, so a ":" or "," or "@" encoded in a display
    name split it into addresses: the B9 suite found From:
    =?utf-8?q?x:ceo@company.com,?= <attacker@evil.example> read as sent by
    ceo@company.com (CPython gh-102988 / CVE-2023-27043, unfixed in 3.11.7)."""
    if "=?" not in value:
        return value

    def run(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group()  # a quoted string: left as it is
        text = clean_text(_decode_header(match.group(1), hint=hint), single_line=True)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _ENCODED_RUN_RE.sub(run, value)


def _for_address_parser(value: Any, hint: str) -> str:
    text = _iso2022jp_runs_decoded(str(value)[:MAX_HEADER_CHARS])
    return _encoded_words_quoted(text, hint)


def _addresses(values: Iterable[Any], *, hint: str = "") -> tuple[Address, ...]:
    raw = [_for_address_parser(v, hint) for v in values if v is not None]
    if not raw:
        return ()
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:
        pairs = []
    out: list[Address] = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        addr = clean_text(_unescape_surrogates(addr), single_line=True).strip("<> ").lower()
        if "@" not in addr:
            continue
        name = clean_text(_decode_header(name, hint=hint), single_line=True)[:150]
        out.append(Address(name, addr[:254]))
    return tuple(out)


FALLBACK_HEADERS = ("reply-to", "sender", "return-path")
_DAEMON_RE = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.I)


def _from(index: Mapping[str, list[str]], hint: str) -> tuple[Address | None, str, str]:
    """(the first From header's first address that has one, which header
    that was, the display name the first From gave even without an address)."""
    values = index.get("from", [])[:5]
    first = _addresses(values[:1], hint=hint)
    if first:  # the common case, in one address parse
        return first[0], "from", first[0].name
    name = ""
    if values:
        pairs = email.utils.getaddresses([_for_address_parser(values[0], hint)])
        raw_name = pairs[0][0] if pairs and pairs[0][0] else ""
        if not raw_name and pairs and "@" not in pairs[0][1]:
            raw_name = str(values[0])  # a bare display name: From: Maria Silva
        name = clean_text(_decode_header(raw_name, hint=hint), single_line=True)[:150]
    for i, value in enumerate(values[1:], start=2):
        found = _addresses([value], hint=hint)
        if found:
            return found[0], f"from#{i}", name
    return None, "from", name


def _fallbacks(
    index: Mapping[str, list[str]], hint: str, name: str
) -> tuple[tuple[str, Address], ...]:
    out: list[tuple[str, Address]] = []
    for header in FALLBACK_HEADERS:
        for found in _addresses(index.get(header, [])[:1], hint=hint)[:1]:
            # A daemon's address is no one to open a ticket for.
            if not _DAEMON_RE.match(found.email):
                out.append((header, Address(name or found.name, found.email)))
    return tuple(out)


def with_fallback_sender(
    mail: InboundEmail, envelope_from: str = "", *, refuse: Callable[[str], bool] | None = None
) -> InboundEmail:
    """mail with its From taken from the first usable stand-in (Reply-To,
    Sender, Return-Path, then the SMTP envelope sender), from_header saying
    which; mail itself when it has a From or nothing stands in. refuse(email)
    rules a stand-in out (our own addresses: a mail "from" support@ would
    loop). Call it only for mail classified as a person's: a bounce keeps
    its empty From."""
    if mail.from_ is not None:
        return mail
    candidates = list(mail.sender_fallbacks)
    envelope = _addresses([envelope_from[:320]]) if envelope_from.strip("<> ") else ()
    if envelope and not _DAEMON_RE.match(envelope[0].email):
        candidates.append(("envelope", Address(mail.from_display, envelope[0].email)))
    if refuse is not None:
        candidates = [c for c in candidates if not refuse(c[1].email)]
    if not candidates:
        return mail
    header, address = candidates[0]
    return dataclasses.replace(mail, from_=address, from_header=header)


def _header_index(msg: StdMessage) -> dict[str, list[str]]:
    """Lower-cased name -> raw values, built once. Raw (not msg.get) because
    compat32 turns an 8-bit header into a Header object whose str() has
    already replaced every non-ASCII byte with U+FFFD."""
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.lower(), []).append(str(value))
    return index


def _date(values: list[str]) -> datetime | None:
    value = values[0] if values else ""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def _delivery_status(msg: StdMessage) -> tuple[DeliveryStatus, ...]:
    out: list[DeliveryStatus] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks: list[Any] = payload if isinstance(payload, list) else []
        if isinstance(payload, str):
            # Some MTAs send it non-parsed: read its header blocks by hand.
            blocks = [
                email.message_from_string(block)
                for block in re.split(r"\r?\n\r?\n", payload)
                if block.strip()
            ]
        for block in blocks[:MAX_ADDRESSES]:
            recipient = str(block.get("final-recipient") or block.get("original-recipient") or "")
            if not recipient:
                continue
            _, _, addr = recipient.partition(";")
            out.append(
                DeliveryStatus(
                    recipient=clean_text(addr or recipient, single_line=True).strip("<> ").lower(),
                    action=clean_text(str(block.get("action") or ""), single_line=True).lower(),
                    status=clean_text(str(block.get("status") or ""), single_line=True),
                    diagnostic=clean_text(
                        str(block.get("diagnostic-code") or ""), single_line=True
                    ),
                )
            )
    return tuple(out)


def _attached_message_ids(msg: StdMessage) -> tuple[str, ...]:
    found: list[str] = []
    for index, part in enumerate(msg.walk()):
        if index > MAX_ADDRESSES or len(found) >= 10:
            break
        kind = part.get_content_type()
        value = ""
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, StdMessage):
                value = str(inner.get("message-id") or "")
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                headers = BytesHeaderParser().parsebytes(text[:MAX_HEADER_CHARS])
                value = str(headers.get("message-id") or "")
        else:
            continue
        found += message_ids(value[:1000])[:1]
    return tuple(dict.fromkeys(found))


def _attachment(
    item: Mapping[str, Any], lifted: Mapping[str, bytes], names: dict[str, list[str]]
) -> InboundAttachment:
    payload = item.get("payload") or ""
    data: bytes
    if item.get("binary") and payload in lifted:
        data = lifted[payload]
    elif item.get("binary"):
        try:
            data = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            # Broken padding: decode what is there rather than drop the file.
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", str(payload))
            data = base64.b64decode(cleaned[: len(cleaned) - len(cleaned) % 4])
    elif isinstance(payload, bytes):
        data = payload
    else:
        data = str(payload).encode("utf-8", "surrogateescape")
    disposition = str(item.get("content-disposition") or "").lower()
    content_id = normalize_message_id(str(item.get("content-id") or ""))
    filename = str(item.get("filename") or "")
    if names.get(filename):
        filename = names[filename].pop(0)  # decoded here, see _filenames
    filename = clean_text(_decode_header(filename), single_line=True)
    if content_id and filename == content_id:
        filename = ""  # mail-parser names nameless inline parts after their cid
    is_inline = disposition.startswith("inline") or (
        bool(content_id) and not disposition.startswith("attachment")
    )
    return InboundAttachment(
        # Not cut here: tickets.services.display_file_name cuts it keeping
        # the extension (_decode_header bounds it to MAX_HEADER_CHARS).
        filename=filename or "attachment",
        content_type=clean_text(str(item.get("mail_content_type") or ""), single_line=True)[:127]
        or "application/octet-stream",
        payload=data,
        content_id=content_id,
        is_inline=is_inline,
    )


def _filenames(msg: StdMessage, hint: str) -> dict[str, list[str]]:
    """mail-parser's name for an attached file -> the names decoded here, in
    part order, for the files whose names it reads differently: it decodes a
    charset label with Python's narrower codec, and raw 8-bit names as UTF-8
    with replacement characters."""
    out: dict[str, list[str]] = {}
    for part in msg.walk():
        heads = [str(v) for k, v in part.raw_items() if k.lower() in _NAMING_HEADERS]
        if all(h.isascii() and "=?" not in h and "*" not in h for h in heads):
            continue  # plain ASCII names: mail-parser reads them as we do
        ours = _part_filename(part, hint)
        if ours is None:
            continue
        view, _ = mime_header_view(part)
        theirs = decode_header_part(view.get_filename())
        if theirs and ours and ours != theirs:
            out.setdefault(theirs, []).append(ours)
    return out


_NAMING_HEADERS = ("content-disposition", "content-type")


def _part_filename(part: StdMessage, hint: str) -> str | None:
    # A copy of the two headers with raw 8-bit bytes decoded first: compat32's
    # get_param would see them as U+FFFD already.
    view = StdMessage()
    for name, raw in part.raw_items():
        if name.lower() in _NAMING_HEADERS:
            view[name] = _unescape_surrogates(str(raw), hint=hint)
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = view.get_param(param, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded text)
            charset, _, text = value
            try:
                data = str(text).encode("latin-1", "surrogateescape")
            except UnicodeEncodeError:  # already decoded past Latin-1 (fuzz): as it is
                return str(text).strip()
            return decode_bytes(data, str(charset or "") or None, hint=hint).strip()
        return _decode_header(email.utils.unquote(str(value)), hint=hint).strip()
    return None


_NO_HINT = frozenset({"", "utf-8", "us-ascii", "ascii", "ansi_x3.4-1968"})


@functools.lru_cache(maxsize=256)
def _python_decodes_alike(charset: str) -> bool:
    """Whether mail-parser, which decodes with Python's codec of the declared
    name, reads this charset the way charset_codec says it should be read."""
    codec = charset_codec(charset)
    if not codec or charset.startswith(_STATEFUL):
        return False
    try:
        return codecs.lookup(charset).name == codecs.lookup(codec).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label (fuzz)
        return False


def _charsets(msg: StdMessage) -> tuple[bool, str]:
    """(whether the bodies must be decoded here, the mail's charset hint).

    Decoded here: a text part in a 7-bit or wide charset (mail-parser returns
    a 7-bit body undecoded: "A+ZeVnLIqe-" for UTF-7, ESC sequences for
    ISO-2022-JP), in a label Python reads narrower than mail clients do
    (gb2312, shift_jis, ks_c_5601-1987), or declared Latin-1 but holding
    UTF-8. The hint is the first charset a text part declares, other than
    UTF-8 and ASCII: raw 8-bit headers are most likely in it."""
    own = False
    hint = ""
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        charset = (part.get_content_charset() or "").lower()
        if not hint and charset.strip("\"'") not in _NO_HINT:
            hint = charset
        if own:
            continue
        if not charset:
            payload = part.get_payload()
            own = isinstance(payload, str) and "\x1b$" in payload  # undeclared ISO-2022-JP
            continue
        if charset_codec(charset) == "cp1252" and charset not in _NO_HINT:
            own = _latin1_holding_utf8(part)
        elif charset_codec(charset) == "cp1252":
            continue  # 8-bit bytes in us-ascii fail mail-parser: a CharsetDecodeDefect
        else:
            own = not _python_decodes_alike(charset)
    return own, hint


# A UTF-8 lead byte then a continuation byte, quoted-printable encoded.
_QP_UTF8_RE = re.compile(r"=[C-F][0-9A-F]=[89AB][0-9A-F]", re.I)


def _latin1_holding_utf8(part: StdMessage) -> bool:
    # Cheap looks at the undecoded payload first: most Latin-1 parts are
    # plain ASCII or quoted-printable without a UTF-8 sequence in it.
    payload = part.get_payload()
    if not isinstance(payload, str):
        return False
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "quoted-printable":
        if not _QP_UTF8_RE.search(payload):
            return False
    elif cte != "base64" and payload.isascii():
        return False
    data = part.get_payload(decode=True)
    return isinstance(data, bytes) and not data.isascii() and _is_utf8(data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bodies_stdlib(msg: StdMessage, *, hint: str = "") -> tuple[list[str], list[str]]:
    """Text and HTML of the body parts, decoded by decode_bytes (fallback path)."""
    plain: list[str] = []
    html: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            continue
        subtype = part.get_content_subtype()
        if subtype not in {"plain", "html"}:
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        (html if subtype == "html" else plain).append(
            decode_bytes(data, part.get_content_charset(), hint=hint)
        )
    return plain, html


class HostileMail(ValueError):
    """A mail built to exhaust the parser (B3): quarantined unparsed."""


_ADDRESS_HEADERS = frozenset(
    {b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender", b"delivered-to", b"x-original-to",
     b"resent-from", b"resent-to", b"resent-cc", b"resent-bcc", b"resent-sender", b"envelope-to"}
)  # fmt: skip
MAX_HEADERS = 5000
# The whole header block: the standard library's parser holds about ten
# times a header's size while it unfolds it, and takes a fifth of a second
# per megabyte: the B3 suite's single 50 MB header line (the message limit
# raised to let it in) cost 9 s and 650 MB. Real header blocks are a few
# kilobytes; DKIM, ARC and long References chains stay far below this.
MAX_HEADER_BLOCK = 2 * 1024 * 1024


def check_header_block(raw: bytes) -> None:
    """Refuse header blocks whose parsing cost grows without bound (tens of
    thousands of headers or addresses): mail-parser parses every address of
    every address header, which takes seconds on 100,000 addresses."""
    # Looked for, and walked, only as far as the limit, by positions rather
    # than split into lines: a 50 MB header line must cost neither a scan of
    # 50 MB nor copies of it to be refused.
    end = _HEADER_END_RE.search(raw, 0, MAX_HEADER_BLOCK + 4)
    block = end.start() if end else min(len(raw), MAX_HEADER_BLOCK + 1)
    if block < MAX_HEADER_CHARS:
        return
    count = pos = 0
    sizes: dict[bytes, int] = {}
    current = b""
    while pos < block:
        eol = raw.find(b"\n", pos, block)
        eol = block if eol < 0 else eol
        if raw[pos : pos + 1] not in (b" ", b"\t"):
            count += 1
            name_end = min(eol, pos + 100)
            colon = raw.find(b":", pos, name_end)
            current = raw[pos : colon if colon >= 0 else name_end].strip().lower()
        if current in _ADDRESS_HEADERS:
            sizes[current] = sizes.get(current, 0) + eol - pos
        pos = eol + 1
    if count > MAX_HEADERS:
        raise HostileMail(f"{count} header fields (limit {MAX_HEADERS})")
    for name, size in sizes.items():
        if size > MAX_HEADER_CHARS:
            raise HostileMail(f"{name.decode()} header of {size} bytes (limit {MAX_HEADER_CHARS})")
    if block > MAX_HEADER_BLOCK:
        raise HostileMail(f"header block of more than {MAX_HEADER_BLOCK} bytes")


# Lifting base64 bodies out before parsing. The standard library's parser
# (under mail-parser) costs per line, and a 2 MB attachment is 27,000 lines of
# base64: on a corpus with attachments that is most of the parse. Base64 text
# holds no "-", ":" or blank-line structure, so a part's body can be swapped
# for a one-line token, the skeleton parsed, and the body decoded straight
# from the raw bytes (binascii, one pass, the decoder the slow path uses too).
LIFT_MIN_BYTES = 4096
MAX_PART_HEAD = 16 * 1024
_CTE_BASE64_RE = re.compile(rb"^content-transfer-encoding:[ \t]*base64[ \t]*\r?$", re.I | re.M)
_BLANK_LINE_RE = re.compile(rb"\n\r?\n")
_PART_TYPE_RE = re.compile(rb"^content-type:[ \t]*([a-z]+)/", re.I | re.M)
_PART_ATTACHED_RE = re.compile(rb"^content-disposition:[ \t]*attachment", re.I | re.M)
_BASE64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"


def lift_base64_bodies(raw: bytes) -> tuple[bytes, dict[str, bytes]]:
    """raw with every large base64 attachment body (a part after a "--"
    boundary line, not text, message or multipart unless attached) replaced
    by a random token, and token -> decoded bytes. A body that is not pure,
    valid base64 stays for the parser."""
    nonce = secrets.token_hex(8)
    pieces: list[bytes] = []
    lifted: dict[str, bytes] = {}
    done = 0
    boundary = raw.find(b"\n--")
    while boundary >= 0:
        head_start = raw.find(b"\n", boundary + 1) + 1
        blank = _BLANK_LINE_RE.search(raw, head_start - 1, head_start + MAX_PART_HEAD)
        boundary = raw.find(b"\n--", boundary + 3)
        if not blank or blank.start() < head_start:
            continue  # no header block, or a boundary line with an empty one
        head = raw[head_start : blank.start() + 1]
        if not _CTE_BASE64_RE.search(head):
            continue
        start, end = blank.end(), raw.find(b"\n--", blank.end())
        if end < 0 or end - start < max(LIFT_MIN_BYTES, 1):
            continue
        boundary = end
        if raw[end - 1 : end] == b"\r":
            end -= 1
        kind = _PART_TYPE_RE.search(head)
        maintype = kind.group(1).lower() if kind else b"text"
        if maintype in (b"text", b"message", b"multipart") and not _PART_ATTACHED_RE.search(head):
            continue
        body = raw[start:end]
        if body.translate(None, _BASE64_BYTES):
            continue
        try:
            data = binascii.a2b_base64(body)
        except binascii.Error:
            continue  # broken padding: the slow path's repair applies
        token = f"hdlift{nonce}{len(lifted)}"
        lifted[token] = data
        pieces += [raw[done:start], token.encode()]
        done = end
    if not lifted:
        return raw, {}
    pieces.append(raw[done:])
    return b"".join(pieces), lifted


def _parse_lifted(raw: bytes) -> tuple[Any, dict[str, bytes]]:
    """mail-parser over the lifted skeleton, or over raw when a token did not
    come back as exactly one attachment's whole payload (a "part" that was
    really text inside another body): then the skeleton is not the mail."""
    skeleton, lifted = lift_base64_bodies(raw)
    if lifted:
        try:
            parser = mailparser.parse_from_bytes(skeleton)
        except Exception:
            return mailparser.parse_from_bytes(raw), {}  # whatever raw does, raise or not
        returned = sorted(
            item.get("payload")
            for item in parser.attachments or []
            if item.get("binary") and item.get("payload") in lifted
        )
        if returned == sorted(lifted):
            return parser, lifted
    return mailparser.parse_from_bytes(raw), {}


# Header blocks that lie. The parser ends the header block at the first line
# that is neither "name:" nor indented, and everything after it (From and
# Subject too) becomes body text. Lines that break it in real mail: a stray
# first line pasted above the headers ("---- Original email message ----",
# an mbox "From " line saved with the mail), a folded line whose indentation
# a mailer lost, a header whose name holds raw 8-bit bytes.
_FIELD_RE = re.compile(rb"[!-9;-~]{1,76}[ \t]*:")
_ODD_LINE_RE = re.compile(rb"^(?![ \t]|[!-9;-~]{1,76}[ \t]*:|\r?$)", re.M)
_KNOWN_FIELD_RE = re.compile(
    rb"(from|to|cc|bcc|subject|date|message-id|in-reply-to|references|reply-to|sender|"
    rb"mime-version|content-[a-z-]+|received|return-path|delivered-to|x-[a-z0-9-]+|list-[a-z]+|"
    rb"thread-[a-z]+|importance|priority|organization|user-agent|dkim-signature|arc-[a-z-]+|"
    rb"authentication-results|auto-submitted|precedence)[ \t]*:",
    re.I,
)
MAX_BROKEN_RUN = 3
MAX_STRAY_LINES = 5


def repair_header_block(raw: bytes) -> tuple[bytes, tuple[str, ...]]:
    """raw with its header block mended so the parser reads every header,
    and what was mended. raw itself (the fast path) when nothing needs it.
    The stored bytes are never changed: this is only what we parse."""
    end = _HEADER_END_RE.search(raw)
    head_end = end.start() if end else min(len(raw), MAX_HEADER_CHARS)
    if not _ODD_LINE_RE.search(raw, 0, head_end):
        return raw, ()
    notes: list[str] = []
    raw = _skip_stray_lines(raw, notes)
    end = _HEADER_END_RE.search(raw)
    # A mail with no blank line at all: only its start can hold headers.
    head_end = end.start() if end else min(len(raw), MAX_HEADER_CHARS)
    lines = raw[:head_end].split(b"\n")
    out: list[bytes] = []
    i = 0
    while i < len(lines):
        if i == 0 or _header_or_folded(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        run_end = i
        while run_end < len(lines) and not _header_or_folded(lines[run_end]):
            run_end += 1
        if (
            run_end - i > MAX_BROKEN_RUN
            or run_end == len(lines)
            or not _KNOWN_FIELD_RE.match(lines[run_end])
        ):
            # No header follows: this is the body, sent without the blank
            # line before it. Left to the parser, as it arrived.
            out += lines[i:]
            break
        for j in range(i, run_end):
            line = lines[j]
            if b":" in line[:77] and not line.split(b":", 1)[0].isascii():
                notes.append(f"dropped a header with a raw 8-bit name (line {j + 1})")
            else:
                # A folded line that lost its indentation: give it back, so
                # the headers after it stay headers.
                notes.append(f"unindented continuation line (line {j + 1})")
                out.append(b" " + line)
        i = run_end
    return b"\n".join(out) + raw[head_end:], tuple(notes)


def _header_or_folded(line: bytes) -> bool:
    return line[:1] in (b" ", b"\t") or bool(_FIELD_RE.match(line))


def _skip_stray_lines(raw: bytes, notes: list[str]) -> bytes:
    """raw without the lines before its headers, when a header block
    (one naming From, Subject or the like) follows within a few lines."""
    pos = 0
    for count in range(MAX_STRAY_LINES + 1):
        if _KNOWN_FIELD_RE.match(raw, pos):
            if count:
                notes.append(f"skipped {count} line(s) before the headers")
            return raw[pos:]
        line_end = raw.find(b"\n", pos)
        if line_end < 0 or (count == 0 and _FIELD_RE.match(raw, pos)):
            return raw
        pos = line_end + 1
    return raw


_TRACE_RE = re.compile(rb"^received[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)


_CHARSET_PARAM_RE = re.compile(rb'(?i)(charset[ \t]*=[ \t]*"?)([^\r\n";]*)')


def _clean_charset_labels(raw: bytes) -> bytes:
    """A NUL inside a charset label makes Python's codec lookup raise
    ValueError (not LookupError) inside mail-parser: NULs leave the header
    block (never allowed there, RFC 5322 3.2.0) and every part's charset
    label, which then names a codec, or none, as any other. Found by tests/fuzz."""
    if b"\x00" not in raw:
        return raw
    end = _HEADER_END_RE.search(raw)
    split = end.end() if end else len(raw)
    raw = raw[:split].replace(b"\x00", b"") + raw[split:]
    return _CHARSET_PARAM_RE.sub(lambda m: m.group(1) + m.group(2).replace(b"\x00", b""), raw)


_B_WORD_RE = re.compile(rb"=\?([^?\s]+)\?[Bb]\?([A-Za-z0-9+/=]*)\?=")


def _pad_encoded_words(raw: bytes) -> bytes:
    """A base64 encoded-word whose length is not a multiple of four (its
    padding cut) makes mail-parser's address parsing raise HeaderParseError;
    mail clients read it padded, and so do we. Found by tests/fuzz."""
    end = _HEADER_END_RE.search(raw)
    split = end.end() if end else len(raw)
    head = raw[:split]
    if b"?B?" not in head and b"?b?" not in head:
        return raw

    def pad(m: re.Match[bytes]) -> bytes:
        data = m.group(2).rstrip(b"=")
        if len(data) % 4 == 1:  # one char past a group can never decode: dropped
            data = data[:-1]
        return m.group(0) if len(m.group(2)) % 4 == 0 else (
            b"=?" + m.group(1) + b"?B?" + data + b"=" * (-len(data) % 4) + b"?="
        )  # fmt: skip

    fixed = _B_WORD_RE.sub(pad, head)
    return raw if fixed == head else fixed + raw[split:]


def _untraced(raw: bytes) -> bytes:
    """raw without its Received headers, which mail-parser would parse one by
    one (its costliest step, a fifth of a parse) into a trace nothing here
    reads. content_digest, the stored bytes and the admin's view keep them."""
    end = _HEADER_END_RE.search(raw)
    if not end:
        return raw
    head, count = _TRACE_RE.subn(b"", raw[: end.end()])
    return head + raw[end.end() :] if count else raw


def parse_email(raw: bytes) -> InboundEmail:
    """Parse a whole RFC 5322 message. Raises HostileMail or
    MailParserRecursionError on structure bombs, nothing else."""
    check_header_block(raw)
    raw, repairs = repair_header_block(raw)
    parser, lifted = _parse_lifted(_untraced(_pad_encoded_words(_clean_charset_labels(raw))))
    msg: StdMessage = parser.message
    defects: list[str] = [f"HeaderRepair: {note}" for note in repairs]
    for entry in parser.defects or []:
        for key, values in dict(entry).items():
            defects += [f"{key}: {v}"[:300] for v in (values or [])]
    plain = list(parser.text_plain or [])
    html = list(parser.text_html or [])
    own, hint = _charsets(msg)
    names = _filenames(msg, hint) if parser.attachments else {}
    if own or "CharsetDecodeDefect" in (parser.defects_categories or set()):
        plain, html = _bodies_stdlib(msg, hint=hint)

    index = _header_index(msg)

    def _all(_msg: StdMessage, name: str) -> list[str]:
        return index.get(name, [])

    def first(name: str) -> str:
        values = index.get(name)
        return values[0] if values else ""

    headers: dict[str, tuple[str, ...]] = {}
    for name in KEPT_HEADERS:
        values = _all(msg, name)
        if values:
            headers[name] = tuple(
                clean_text(_decode_header(v, limit=4096, hint=hint), single_line=True)[:2000]
                for v in values[:20]
            )

    delivered: list[str] = []
    for name in ("delivered-to", "x-original-to", "envelope-to"):
        delivered += [a.email for a in _addresses(_all(msg, name))]

    in_reply_to = message_ids(first("in-reply-to")[:MAX_HEADER_CHARS])
    references = message_ids(first("references")[:MAX_HEADER_CHARS])[-MAX_REFERENCES:]
    from_, from_header, from_name = _from(index, hint)
    content_type = msg.get_content_type()
    return InboundEmail(
        subject=clean_text(_decode_header(first("subject"), hint=hint), single_line=True)[:1000],
        from_=from_,
        reply_to=_addresses(_all(msg, "reply-to"), hint=hint),
        to=_addresses(_all(msg, "to"), hint=hint),
        cc=_addresses(_all(msg, "cc"), hint=hint),
        delivered_to=tuple(dict.fromkeys(delivered)),
        message_id=clean_text(normalize_message_id(first("message-id"))),
        in_reply_to=in_reply_to[:MAX_REFERENCES],
        references=references,
        date=_date(_all(msg, "date")),
        text=clean_text("\n".join(plain)),
        html=clean_text("\n".join(html)),
        attachments=tuple(_attachment(item, lifted, names) for item in parser.attachments or []),
        content_type=content_type,
        report_type=str(msg.get_param("report-type") or "").lower()
        if content_type == "multipart/report"
        else "",
        delivery_status=_delivery_status(msg) if content_type == "multipart/report" else (),
        attached_message_ids=_attached_message_ids(msg) if msg.is_multipart() else (),
        headers=MappingProxyType(headers),
        defects=tuple(defects[:50]),
        from_header=from_header,
        sender_fallbacks=_fallbacks(index, hint, from_name) if from_ is None else (),
        from_display=from_name,
    )

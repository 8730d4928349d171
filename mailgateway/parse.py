"""Bytes in, a frozen InboundEmail out. The only importer of mail-parser.

mail-parser (compat32 underneath) measured faster than the standard library's
policy.default on the benchmark corpus (536 vs 370 mails/s), so it does the
MIME walk and the body decoding. Two things are done here with the standard
library instead, because mail-parser gets them wrong for our purpose:

* headers are decoded by _decode_header (RFC 2047 words in any charset, raw
  8-bit bytes read as UTF-8 or else Windows-1252, never an exception);
* a text part whose charset mail-parser could not apply (unknown or lying
  declaration) is decoded again with the same fallback chain, because
  mail-parser's last resort is UTF-8 with replacement characters, which
  turns every accented Latin-1 letter into U+FFFD.

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
import email.header
import email.utils
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message as StdMessage
from types import MappingProxyType
from typing import Any

import mailparser

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
_LATIN1_NAMES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii", "l1"}


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


def decode_bytes(data: bytes, charset: str | None) -> str:
    """The declared charset if it works, else UTF-8, else Windows-1252 (never fails)."""
    names = []
    if charset:
        cs = charset.strip().strip("\"'").lower()
        names.append("cp1252" if cs in _LATIN1_NAMES else cs)
    names += ["utf-8", "cp1252"]
    for name in names:
        try:
            return data.decode(name)
        except (LookupError, UnicodeError, ValueError):
            continue
    return data.decode("cp1252", "replace")


def _decode_header(value: Any, *, limit: int = MAX_HEADER_CHARS) -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit tolerated."""
    if value is None:
        return ""
    raw = _unescape_surrogates(str(value)[:limit])
    try:
        chunks = email.header.decode_header(raw)
    except Exception:
        chunks = [(raw, None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(_unescape_surrogates(chunk))
    return "".join(out)


def _unescape_surrogates(text: str) -> str:
    # compat32 keeps raw 8-bit header bytes as surrogate escapes.
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None)


def normalize_message_id(value: str) -> str:
    """The id between the first <...>, else the trimmed value; no brackets, <= 250 chars."""
    match = _MSGID_RE.search(value)
    found = match.group(1) if match else value.strip()
    return "".join(found.split())[:250]


def message_ids(value: str) -> tuple[str, ...]:
    return tuple(m.group(1) for m in _MSGID_RE.finditer(value))


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


def _addresses(values: Iterable[Any]) -> tuple[Address, ...]:
    raw = [str(v)[:MAX_HEADER_CHARS] for v in values if v is not None]
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
        out.append(Address(clean_text(_decode_header(name), single_line=True)[:150], addr[:254]))
    return tuple(out)


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


def _attachment(item: Mapping[str, Any], lifted: Mapping[str, bytes]) -> InboundAttachment:
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
    filename = clean_text(_decode_header(item.get("filename") or ""), single_line=True)
    if content_id and filename == content_id:
        filename = ""  # mail-parser names nameless inline parts after their cid
    is_inline = disposition.startswith("inline") or (
        bool(content_id) and not disposition.startswith("attachment")
    )
    return InboundAttachment(
        filename=filename[:255] or "attachment",
        content_type=clean_text(str(item.get("mail_content_type") or ""), single_line=True)[:127]
        or "application/octet-stream",
        payload=data,
        content_id=content_id,
        is_inline=is_inline,
    )


_STATEFUL = ("utf-7", "unicode-1-1-utf-7", "iso-2022", "hz", "utf-16", "utf-32", "x-")


def _stateful_charset(msg: StdMessage) -> bool:
    """A text part in a 7-bit or wide charset: mail-parser returns a 7-bit
    body without decoding it ("A+ZeVnLIqe-" for UTF-7, ESC sequences for
    ISO-2022-JP), so those mails take the standard-library path."""
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            charset = (part.get_content_charset() or "").lower()
            if charset.startswith(_STATEFUL):
                return True
    return False


def _bodies_stdlib(msg: StdMessage) -> tuple[list[str], list[str]]:
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
            decode_bytes(data, part.get_content_charset())
        )
    return plain, html


class HostileMail(ValueError):
    """A mail built to exhaust the parser (B3): quarantined unparsed."""


_ADDRESS_HEADERS = frozenset(
    {b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender", b"delivered-to", b"x-original-to",
     b"resent-from", b"resent-to", b"resent-cc", b"resent-bcc", b"resent-sender", b"envelope-to"}
)  # fmt: skip
MAX_HEADERS = 5000


def check_header_block(raw: bytes) -> None:
    """Refuse header blocks whose parsing cost grows without bound (tens of
    thousands of headers or addresses): mail-parser parses every address of
    every address header, which takes seconds on 100,000 addresses."""
    end = _HEADER_END_RE.search(raw)
    head = raw[: end.start()] if end else raw
    if len(head) < MAX_HEADER_CHARS:
        return
    count = 0
    sizes: dict[bytes, int] = {}
    current = b""
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current in _ADDRESS_HEADERS:
                sizes[current] = sizes.get(current, 0) + len(line)
            continue
        count += 1
        current = line.split(b":", 1)[0].strip().lower()
        if current in _ADDRESS_HEADERS:
            sizes[current] = sizes.get(current, 0) + len(line)
    if count > MAX_HEADERS:
        raise HostileMail(f"{count} header fields (limit {MAX_HEADERS})")
    for name, size in sizes.items():
        if size > MAX_HEADER_CHARS:
            raise HostileMail(f"{name.decode()} header of {size} bytes (limit {MAX_HEADER_CHARS})")


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


_TRACE_RE = re.compile(rb"^received[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)


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
    parser, lifted = _parse_lifted(_untraced(raw))
    msg: StdMessage = parser.message
    defects: list[str] = []
    for entry in parser.defects or []:
        for key, values in dict(entry).items():
            defects += [f"{key}: {v}"[:300] for v in (values or [])]
    plain = list(parser.text_plain or [])
    html = list(parser.text_html or [])
    if "CharsetDecodeDefect" in (parser.defects_categories or set()) or _stateful_charset(msg):
        plain, html = _bodies_stdlib(msg)

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
                clean_text(_decode_header(v, limit=4096), single_line=True)[:2000]
                for v in values[:20]
            )

    delivered: list[str] = []
    for name in ("delivered-to", "x-original-to", "envelope-to"):
        delivered += [a.email for a in _addresses(_all(msg, name))]

    in_reply_to = message_ids(first("in-reply-to")[:MAX_HEADER_CHARS])
    references = message_ids(first("references")[:MAX_HEADER_CHARS])[-MAX_REFERENCES:]
    from_ = _addresses(_all(msg, "from")[:1])
    content_type = msg.get_content_type()
    return InboundEmail(
        subject=clean_text(_decode_header(first("subject")), single_line=True)[:1000],
        from_=from_[0] if from_ else None,
        reply_to=_addresses(_all(msg, "reply-to")),
        to=_addresses(_all(msg, "to")),
        cc=_addresses(_all(msg, "cc")),
        delivered_to=tuple(dict.fromkeys(delivered)),
        message_id=clean_text(normalize_message_id(first("message-id"))),
        in_reply_to=in_reply_to[:MAX_REFERENCES],
        references=references,
        date=_date(_all(msg, "date")),
        text=clean_text("\n".join(plain)),
        html=clean_text("\n".join(html)),
        attachments=tuple(_attachment(item, lifted) for item in parser.attachments or []),
        content_type=content_type,
        report_type=str(msg.get_param("report-type") or "").lower()
        if content_type == "multipart/report"
        else "",
        delivery_status=_delivery_status(msg) if content_type == "multipart/report" else (),
        headers=MappingProxyType(headers),
        defects=tuple(defects[:50]),
    )

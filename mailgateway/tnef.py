"""winmail.dat (TNEF, MS-OXTNEF) opened into the files and body Outlook put in it.

Outlook and Exchange send "rich text" mail as one application/ms-tnef part;
every client but Outlook shows it as an opaque winmail.dat. We expand it when
the mail is prepared (before anything is stored), so agents get the real
files, and the body when the mail carries none of its own.

Why a reader of our own and not tnefparse (the PyPI library, last release
2021): measured on hostile input, a 25-byte file whose property block claims
2**32-1 MAPI properties loops for minutes, and 2.2 MB of empty attributes
takes over 20 s (it copies the rest of the stream once per attribute). This
reader reads each byte once (memoryviews, no copies until a file is cut out),
checks every count against the bytes left, and reads only what we show: the
files (name, type, Content-ID, bytes) and the text or HTML body.

What it leaves whole: an RTF-only body (Outlook's compressed RTF would need
an RTF-to-HTML converter) and attached Outlook items (embedded messages).
When either is present, or the stream cannot be read, the winmail.dat is
kept as a file beside whatever could be taken out of it. Otherwise the
original is not kept as an attachment: everything it held is now a file of
its own, and the raw mail (with the winmail.dat in it) is archived as always.
"""

from __future__ import annotations

import codecs
import dataclasses
import mimetypes
import struct
from dataclasses import dataclass, field
from typing import Any

from mailgateway.mapi import (
    ATTACH_EMBEDDED_MSG,
    PR_ATTACH_CONTENT_ID,
    PR_ATTACH_DATA,
    PR_ATTACH_FILENAME,
    PR_ATTACH_LONG_FILENAME,
    PR_ATTACH_METHOD,
    PR_ATTACH_MIME_TAG,
    PR_BODY,
    PR_BODY_HTML,
    PR_INTERNET_CPID,
    PR_RTF_COMPRESSED,
)
from mailgateway.parse import InboundAttachment, InboundEmail, clean_text, decode_bytes

SIGNATURE = 0x223E9F78
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
TNEF_NAMES = frozenset({"winmail.dat", "win.dat"})
MAX_FILES = 200

# Attributes (MS-OXTNEF 2.1.3.2): the attribute type in the high word.
LVL_MESSAGE, LVL_ATTACHMENT = 1, 2
ATT_BODY = 0x0002800C
ATT_MSG_PROPS = 0x00069003
ATT_OEM_CODEPAGE = 0x00069007
ATT_ATTACH_REND_DATA = 0x00069002
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACHMENT = 0x00069005


# Property types: fixed sizes as stored in TNEF (padded to 4 bytes), and the
# variable ones (a length, the bytes, padding to 4).
MV_FLAG = 0x1000
FIXED_SIZES = {
    0x0002: 4, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000A: 4,
    0x000B: 4, 0x0014: 8, 0x0040: 8, 0x0048: 16,
}  # fmt: skip
PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT = 0x001E, 0x001F, 0x0102, 0x000D
VARIABLE = frozenset({PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT})

# Windows code page numbers to the charset names parse.decode_bytes knows.
_CODEPAGES = {
    65001: "utf-8", 20127: "us-ascii", 28591: "iso-8859-1", 28592: "iso-8859-2",
    28605: "iso-8859-15", 932: "shift_jis", 936: "gb2312", 54936: "gb18030",
    949: "ks_c_5601-1987", 950: "big5", 50220: "iso-2022-jp", 51932: "euc-jp",
    20866: "koi8-r", 21866: "koi8-u",
}  # fmt: skip


class TnefError(ValueError):
    pass


@dataclass(frozen=True)
class TnefFile:
    name: str
    content_type: str
    data: bytes
    content_id: str = ""


@dataclass(frozen=True)
class Tnef:
    files: tuple[TnefFile, ...]
    text: str
    html: str
    rtf_only: bool  # a body we cannot show (compressed RTF)
    skipped: int  # attached Outlook items left inside


@dataclass
class _File:
    title: bytes = b""
    data: bytes = b""
    props: dict[int, tuple[int, Any]] = field(default_factory=dict)


def _u16(view: memoryview, offset: int) -> int:
    return int(struct.unpack_from("<H", view, offset)[0])


def _u32(view: memoryview, offset: int) -> int:
    return int(struct.unpack_from("<I", view, offset)[0])


def _need(view: memoryview, offset: int, size: int) -> None:
    if size < 0 or offset + size > len(view):
        raise TnefError("truncated")


def _pad4(size: int) -> int:
    return (size + 3) & ~3


def _mapi(view: memoryview) -> dict[int, tuple[int, Any]]:
    """A MAPI property block (MS-OXTNEF 2.1.3.4): id -> (type, value or list)."""
    _need(view, 0, 4)
    count = _u32(view, 0)
    offset = 4
    if count > (len(view) - 4) // 8:  # a property takes 8 bytes at least
        raise TnefError("more properties than bytes")
    props: dict[int, tuple[int, Any]] = {}
    for _ in range(count):
        _need(view, offset, 4)
        ptype, pid = _u16(view, offset), _u16(view, offset + 2)
        offset += 4
        if pid >= 0x8000:  # a named property: its GUID and name or number
            _need(view, offset, 20)
            kind = _u32(view, offset + 16)
            offset += 20
            if kind == 0:
                offset += 4
            else:
                _need(view, offset, 4)
                offset += 4 + _pad4(_u32(view, offset))
        multi = bool(ptype & MV_FLAG)
        ptype &= ~MV_FLAG
        values: list[Any] = []
        if multi or ptype in VARIABLE:
            _need(view, offset, 4)
            n = _u32(view, offset)
            offset += 4
            if n > (len(view) - offset) // 4:
                raise TnefError("more values than bytes")
        else:
            n = 1
        for _ in range(n):
            if ptype in FIXED_SIZES:
                size = FIXED_SIZES[ptype]
                _need(view, offset, size)
                values.append(view[offset : offset + size])
                offset += size
            elif ptype in VARIABLE:
                _need(view, offset, 4)
                size = _u32(view, offset)
                offset += 4
                _need(view, offset, size)
                values.append(view[offset : offset + size])
                offset += _pad4(size)
            else:
                raise TnefError(f"unknown property type {ptype:#06x}")
        props[pid] = (ptype, values if multi else values[0])
    return props


def _codec(number: int) -> str:
    name = _CODEPAGES.get(number, f"cp{number}")
    try:
        codecs.lookup(name)
    except LookupError:
        return "windows-1252"
    return name


def _string(prop: tuple[int, Any] | None, codepage: str) -> str:
    if prop is None:
        return ""
    ptype, value = prop
    if isinstance(value, list):
        return ""
    data = bytes(value)
    if ptype == PT_UNICODE:
        return data.decode("utf-16-le", "replace").split("\x00", 1)[0]
    return decode_bytes(data.split(b"\x00", 1)[0], codepage)


def _int(prop: tuple[int, Any] | None) -> int:
    if prop is None or prop[0] not in (0x0002, 0x0003) or isinstance(prop[1], list):
        return 0
    return int(struct.unpack_from("<i", prop[1], 0)[0])


def read_tnef(data: bytes) -> Tnef:
    """The files and body in a TNEF stream. Raises TnefError when it is not
    one or cannot be read; linear in len(data) whatever it claims."""
    view = memoryview(data)
    if len(view) < 6 or _u32(view, 0) != SIGNATURE:
        raise TnefError("not a TNEF stream")
    offset = 6
    codepage = "windows-1252"
    text_attr = b""
    message: dict[int, tuple[int, Any]] = {}
    files: list[_File] = []
    while len(view) - offset >= 11:
        level = view[offset]
        attr = _u32(view, offset + 1)
        size = _u32(view, offset + 5)
        start = offset + 9
        _need(view, start, size + 2)  # the value, then its checksum
        value = view[start : start + size]
        offset = start + size + 2
        if level == LVL_MESSAGE:
            if attr == ATT_OEM_CODEPAGE and size >= 4:
                codepage = _codec(_u32(value, 0))
            elif attr == ATT_BODY:
                text_attr = bytes(value)
            elif attr == ATT_MSG_PROPS:
                message.update(_mapi(value))
        elif level == LVL_ATTACHMENT:
            if attr == ATT_ATTACH_REND_DATA or not files:
                if len(files) >= MAX_FILES:
                    raise TnefError("too many files")
                files.append(_File())
            current = files[-1]
            if attr == ATT_ATTACH_TITLE:
                current.title = bytes(value).split(b"\x00", 1)[0]
            elif attr == ATT_ATTACH_DATA:
                current.data = bytes(value)
            elif attr == ATT_ATTACHMENT:
                current.props.update(_mapi(value))
        else:
            raise TnefError(f"unknown attribute level {level}")

    cpid = _int(message.get(PR_INTERNET_CPID))
    body_codepage = _codec(cpid) if cpid else codepage
    text = _string(message.get(PR_BODY), body_codepage) or (
        decode_bytes(text_attr.split(b"\x00", 1)[0], codepage) if text_attr else ""
    )
    html_prop = message.get(PR_BODY_HTML)
    html = ""
    if html_prop is not None and not isinstance(html_prop[1], list):
        raw_html = bytes(html_prop[1]).rstrip(b"\x00")
        if html_prop[0] == PT_UNICODE:
            html = raw_html.decode("utf-16-le", "replace")
        else:
            html = decode_bytes(raw_html, body_codepage)
    out: list[TnefFile] = []
    skipped = 0
    for item in files:
        method = _int(item.props.get(PR_ATTACH_METHOD))
        data_prop = item.props.get(PR_ATTACH_DATA)
        if method == ATTACH_EMBEDDED_MSG or (data_prop is not None and data_prop[0] == PT_OBJECT):
            skipped += 1  # an Outlook item inside: its own TNEF, left whole
            continue
        content = item.data
        if not content and data_prop is not None and not isinstance(data_prop[1], list):
            content = bytes(data_prop[1])
        name = (
            _string(item.props.get(PR_ATTACH_LONG_FILENAME), codepage)
            or _string(item.props.get(PR_ATTACH_FILENAME), codepage)
            or decode_bytes(item.title, codepage)
        )
        name = clean_text(name, single_line=True)[:255] or "attachment"
        declared = _string(item.props.get(PR_ATTACH_MIME_TAG), codepage).strip().lower()
        if "/" not in declared:
            declared = mimetypes.guess_type(name)[0] or "application/octet-stream"
        cid = _string(item.props.get(PR_ATTACH_CONTENT_ID), codepage).strip().strip("<>")
        out.append(TnefFile(name, clean_text(declared, single_line=True)[:127], content, cid))
    return Tnef(
        files=tuple(out),
        text=clean_text(text),
        html=clean_text(html),
        rtf_only=PR_RTF_COMPRESSED in message and not text and not html,
        skipped=skipped,
    )


def is_tnef(attachment: InboundAttachment) -> bool:
    declared = attachment.content_type.lower().split(";")[0].strip()
    named = attachment.filename.lower() in TNEF_NAMES
    return (declared in TNEF_TYPES or named) and attachment.payload[:4] == b"\x78\x9f\x3e\x22"


def expand_tnef(mail: InboundEmail, *, max_bytes: int) -> tuple[InboundEmail, str]:
    """mail with each winmail.dat replaced by the files in it (its body
    becomes the mail's when the mail has none); the note says what was done
    for the threading verdict, "" when there was no TNEF. A winmail.dat over
    max_bytes, unreadable, or holding what we cannot show is kept as is."""
    if not any(is_tnef(a) for a in mail.attachments):
        return mail, ""
    attachments: list[InboundAttachment] = []
    notes: list[str] = []
    text, html = mail.text, mail.html
    for attachment in mail.attachments:
        if not is_tnef(attachment):
            attachments.append(attachment)
            continue
        if len(attachment.payload) > max_bytes:
            attachments.append(attachment)
            notes.append(f"{attachment.filename} kept: too large to open")
            continue
        try:
            tnef = read_tnef(attachment.payload)
        except TnefError as exc:
            attachments.append(attachment)
            notes.append(f"{attachment.filename} kept: {exc}")
            continue
        attachments += [
            InboundAttachment(
                filename=f.name,
                content_type=f.content_type,
                payload=f.data,
                content_id=f.content_id,
                is_inline=bool(f.content_id),
            )
            for f in tnef.files
        ]
        body = False
        if not text.strip() and not html.strip() and (tnef.text or tnef.html):
            text, html, body = tnef.text, tnef.html, True
        left = tnef.skipped or (tnef.rtf_only and not text.strip() and not html.strip())
        if left:
            attachments.append(attachment)
        notes.append(
            f"{attachment.filename} opened: {len(tnef.files)} files"
            + (", its body" if body else "")
            + ("; kept, it holds what cannot be shown" if left else "")
        )
    mail = dataclasses.replace(mail, attachments=tuple(attachments), text=text, html=html)
    return mail, "; ".join(notes)

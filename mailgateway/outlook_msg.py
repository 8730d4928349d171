"""Outlook .msg files (MS-OXMSG) read for display as a nested message.

A .msg is an OLE2 compound file: one stream per MAPI property
(__substg1.0_<id><type>), fixed-size properties in __properties_version1.0,
one storage per recipient and per attachment. olefile (one pure-Python
module, BSD, what extract-msg and oletools build on) reads the container;
this module reads the few properties the thread shows: subject, sender,
recipients, date, the text or HTML body, and the attached files.
extract-msg would do more (RTF bodies, signed mail) at the cost of seven
more packages; a .msg whose only body is RTF shows its headers and files.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import olefile  # type: ignore[import-untyped]

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
)
from mailgateway.parse import Address, InboundAttachment, clean_text, decode_bytes

# PT_UNICODE, PT_STRING8, PT_BINARY stream suffixes; PT_SYSTIME, PT_LONG in
# the properties stream.
UNICODE, STRING8, BINARY = "001F", "001E", "0102"
PT_LONG, PT_SYSTIME = 0x0003, 0x0040

PR_SUBJECT = 0x0037
PR_CLIENT_SUBMIT_TIME = 0x0039
PR_SENDER_NAME = 0x0C1A
PR_SENDER_EMAIL = 0x0C1F
PR_SENDER_SMTP = 0x5D01
PR_RECIPIENT_TYPE = 0x0C15
PR_MESSAGE_DELIVERY_TIME = 0x0E06
PR_DISPLAY_NAME = 0x3001
PR_EMAIL_ADDRESS = 0x3003
PR_SMTP_ADDRESS = 0x39FE
MAX_PARTS = 200
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class MsgError(ValueError):
    pass


@dataclass(frozen=True)
class AttachedMail:
    """What the thread shows of an attached mail (.msg read here; an .eml
    read by mailgateway.parse fills the same fields)."""

    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    text: str
    html: str
    attachments: tuple[InboundAttachment, ...]


OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def is_msg(data: bytes) -> bool:
    return data[:8] == OLE2_SIGNATURE


class _Storage:
    """One storage of the file (the message, a recipient, an attachment)."""

    def __init__(self, ole: olefile.OleFileIO, path: list[str], header: int) -> None:
        self.ole = ole
        self.path = path
        self.fixed = self._fixed(header)

    def _fixed(self, header: int) -> dict[int, tuple[int, bytes]]:
        # __properties_version1.0: a header (32 bytes for the message, 8 for
        # a recipient or attachment), then 16-byte entries: type, id, flags,
        # and 8 bytes of value for the fixed-size types.
        stream = [*self.path, "__properties_version1.0"]
        if not self.ole.exists("/".join(stream)):
            return {}
        data = self.ole.openstream(stream).read()
        out: dict[int, tuple[int, bytes]] = {}
        for offset in range(header, len(data) - 15, 16):
            ptype, pid = struct.unpack_from("<HH", data, offset)
            out[pid] = (ptype, data[offset + 8 : offset + 16])
        return out

    def raw(self, pid: int, kind: str) -> bytes | None:
        stream = [*self.path, f"__substg1.0_{pid:04X}{kind}"]
        if not self.ole.exists("/".join(stream)):
            return None
        return bytes(self.ole.openstream(stream).read())

    def string(self, pid: int, codepage: str = "windows-1252") -> str:
        data = self.raw(pid, UNICODE)
        if data is not None:
            return clean_text(data.decode("utf-16-le", "replace").split("\x00", 1)[0])
        data = self.raw(pid, STRING8)
        if data is not None:
            return clean_text(decode_bytes(data.split(b"\x00", 1)[0], codepage))
        return ""

    def long(self, pid: int) -> int:
        ptype, value = self.fixed.get(pid, (0, b""))
        return int(struct.unpack_from("<i", value)[0]) if ptype == PT_LONG else 0

    def time(self, pid: int) -> datetime | None:
        ptype, value = self.fixed.get(pid, (0, b""))
        if ptype != PT_SYSTIME:
            return None
        ticks = int(struct.unpack_from("<Q", value)[0])  # 100 ns since 1601
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            return None

    def children(self, prefix: str) -> list[list[str]]:
        seen = {
            entry[len(self.path)]
            for entry in self.ole.listdir(streams=False, storages=True)
            if len(entry) > len(self.path)
            and entry[: len(self.path)] == self.path
            and entry[len(self.path)].startswith(prefix)
        }
        return [[*self.path, name] for name in sorted(seen)][:MAX_PARTS]


def _address(name: str, email: str) -> Address | None:
    email = email.strip()
    if "@" not in email:  # an Exchange DN ("/O=EXCHANGELABS/…"), not an address
        return Address(name, "") if name else None
    return Address(name, email.lower())


def read_msg(data: bytes) -> AttachedMail:
    """The parts of a .msg the thread shows. Raises MsgError when data is not
    a readable Outlook message."""
    if not is_msg(data):
        raise MsgError("not an OLE2 compound file")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        raise MsgError(f"unreadable: {exc}") from exc
    try:
        return _read(ole)
    except MsgError:
        raise
    except Exception as exc:
        raise MsgError(f"unreadable: {exc}") from exc
    finally:
        ole.close()


def _read(ole: olefile.OleFileIO) -> AttachedMail:
    root = _Storage(ole, [], 32)
    no_subject = root.raw(PR_SUBJECT, UNICODE) is None and root.raw(PR_SUBJECT, STRING8) is None
    if no_subject and not root.fixed:
        raise MsgError("no message properties")
    cpid = root.long(PR_INTERNET_CPID)
    codepage = f"cp{cpid}" if cpid and cpid != 65001 else "utf-8" if cpid else "windows-1252"
    to: list[Address] = []
    cc: list[Address] = []
    for path in root.children("__recip_version1.0_"):
        recipient = _Storage(ole, path, 8)
        address = _address(
            recipient.string(PR_DISPLAY_NAME, codepage),
            recipient.string(PR_SMTP_ADDRESS, codepage)
            or recipient.string(PR_EMAIL_ADDRESS, codepage),
        )
        if address is not None:
            (cc if recipient.long(PR_RECIPIENT_TYPE) == 2 else to).append(address)
    attachments: list[InboundAttachment] = []
    for path in root.children("__attach_version1.0_"):
        part = _Storage(ole, path, 8)
        content = part.raw(PR_ATTACH_DATA, BINARY)
        if part.long(PR_ATTACH_METHOD) == ATTACH_EMBEDDED_MSG or content is None:
            continue  # an Outlook item inside (a storage of its own): left whole
        name = (
            part.string(PR_ATTACH_LONG_FILENAME, codepage)
            or part.string(PR_ATTACH_FILENAME, codepage)
            or "attachment"
        )
        mime = part.string(PR_ATTACH_MIME_TAG, codepage).lower()
        cid = part.string(PR_ATTACH_CONTENT_ID, codepage).strip().strip("<>")
        attachments.append(
            InboundAttachment(
                filename=" ".join(name.split())[:255],
                content_type=mime if "/" in mime else "application/octet-stream",
                payload=content,
                content_id=cid,
                is_inline=bool(cid),
            )
        )
    html_raw = root.raw(PR_BODY_HTML, BINARY)
    html = clean_text(decode_bytes(html_raw.rstrip(b"\x00"), codepage)) if html_raw else ""
    html = html or root.string(PR_BODY_HTML, codepage)
    return AttachedMail(
        subject=" ".join(root.string(PR_SUBJECT, codepage).split()),
        sender=_address(
            root.string(PR_SENDER_NAME, codepage),
            root.string(PR_SENDER_SMTP, codepage) or root.string(PR_SENDER_EMAIL, codepage),
        ),
        to=tuple(to),
        cc=tuple(cc),
        date=root.time(PR_CLIENT_SUBMIT_TIME) or root.time(PR_MESSAGE_DELIVERY_TIME),
        text=root.string(PR_BODY, codepage),
        html=html,
        attachments=tuple(attachments),
    )

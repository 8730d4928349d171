"""TNEF streams built here byte by byte, per MS-OXTNEF, the way Outlook and
Exchange write winmail.dat: no fixture downloaded, every field visible."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE = 0x223E9F78


def attribute(level: int, attr_id: int, data: bytes) -> bytes:
    """One attribute: level, id (type in the high word), length, value, and
    the checksum (the value's bytes summed modulo 65536)."""
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", checksum)


def _padded(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def prop_unicode(pid: int, text: str) -> bytes:
    value = (text + "\x00").encode("utf-16-le")
    return struct.pack("<HHII", 0x001F, pid, 1, len(value)) + _padded(value)


def prop_string8(pid: int, text: str, codec: str = "cp1252") -> bytes:
    value = text.encode(codec) + b"\x00"
    return struct.pack("<HHII", 0x001E, pid, 1, len(value)) + _padded(value)


def prop_binary(pid: int, data: bytes) -> bytes:
    return struct.pack("<HHII", 0x0102, pid, 1, len(data)) + _padded(data)


def prop_int(pid: int, value: int) -> bytes:
    return struct.pack("<HHi", 0x0003, pid, value)


def prop_named_int(guid: bytes, name: str, value: int) -> bytes:
    """A named property (Outlook writes dozens): GUID, a string name, value."""
    encoded = (name + "\x00").encode("utf-16-le")
    head = struct.pack("<HH", 0x0003, 0x8001) + guid + struct.pack("<II", 1, len(encoded))
    return head + _padded(encoded) + struct.pack("<i", value)


def props(*items: bytes) -> bytes:
    return struct.pack("<I", len(items)) + b"".join(items)


@dataclass(frozen=True)
class File:
    name: str
    data: bytes
    mime: str = ""
    content_id: str = ""
    short_name: str = ""  # the 8.3 title older Outlooks write


def tnef(
    *,
    body: str = "",
    html: str = "",
    rtf: bytes = b"",
    files: Sequence[File] = (),
    embedded_message: bool = False,
    oem_codepage: int = 1252,
) -> bytes:
    out = struct.pack("<IH", SIGNATURE, 0x0A1B)
    out += attribute(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attribute(1, 0x00069007, struct.pack("<II", oem_codepage, 0))  # attOemCodepage
    out += attribute(1, 0x00078008, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    if body:
        out += attribute(1, 0x0002800C, body.encode(f"cp{oem_codepage}"))  # attBody
    message_props = [prop_int(0x3FDE, 65001)]  # PR_INTERNET_CPID: UTF-8
    if html:
        message_props.append(prop_binary(0x1013, html.encode("utf-8")))  # PR_BODY_HTML
    if rtf:
        message_props.append(prop_binary(0x1009, rtf))  # PR_RTF_COMPRESSED
    message_props.append(prop_named_int(b"\x08\x20\x06\x00" + b"\x00" * 12, "Reminder", 0))
    out += attribute(1, 0x00069003, props(*message_props))  # attMsgProps
    for f in files:
        out += attribute(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += attribute(
            2, 0x00018010, (f.short_name or f.name).encode("cp1252", "replace") + b"\x00"
        )
        out += attribute(2, 0x0006800F, f.data)  # attAttachData
        attach_props = [prop_unicode(0x3707, f.name), prop_int(0x3705, 1)]
        if f.mime:
            attach_props.append(prop_string8(0x370E, f.mime))
        if f.content_id:
            attach_props.append(prop_string8(0x3712, f.content_id))
        out += attribute(2, 0x00069005, props(*attach_props))  # attAttachment
    if embedded_message:
        out += attribute(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += attribute(2, 0x00018010, b"Meeting notes\x00")
        out += attribute(2, 0x00069005, props(prop_int(0x3705, 5), prop_binary(0x3701, b"x" * 20)))
    return out

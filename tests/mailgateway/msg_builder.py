"""Outlook .msg files built here (MS-CFB container, MS-OXMSG properties):
no fixture downloaded, every field visible. A small compound-file writer,
version 3 (512-byte sectors), with a mini stream for the small streams as
the specification requires."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF

# A storage is a dict of name -> bytes (a stream) or name -> dict (a storage).
Tree = Mapping[str, "bytes | Tree"]


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    start: int = ENDOFCHAIN
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM


def _order(name: str) -> tuple[int, str]:
    return (len(name), name.upper())  # MS-CFB 2.6.4: shorter first, then case-blind


def compound_file(tree: Tree) -> bytes:
    entries = [_Entry("Root Entry", 5)]

    def add(parent: int, items: Tree) -> None:
        for name in sorted(items, key=_order):
            value = items[name]
            index = len(entries)
            if isinstance(value, bytes):
                entries.append(_Entry(name, 2, value))
            else:
                entries.append(_Entry(name, 1))
                add(index, value)
            entries[parent].children.append(index)

    add(0, tree)
    # Siblings as a right-leaning chain: a valid (if unbalanced) tree.
    for entry in entries:
        kids = entry.children
        if kids:
            entry.child = kids[0]
            for a, b in itertools.pairwise(kids):
                entries[a].right = b

    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes) -> int:
        if not data:
            return ENDOFCHAIN
        first = len(sectors)
        count = (len(data) + SECTOR - 1) // SECTOR
        for i in range(count):
            sectors.append(data[i * SECTOR : (i + 1) * SECTOR].ljust(SECTOR, b"\x00"))
            fat.append(first + i + 1 if i < count - 1 else ENDOFCHAIN)
        return first

    mini_stream = b""
    minifat: list[int] = []
    for entry in entries:
        if entry.kind != 2:
            continue
        if len(entry.data) >= CUTOFF:
            entry.start = chain(entry.data)
        elif entry.data:
            first = len(mini_stream) // MINI
            count = (len(entry.data) + MINI - 1) // MINI
            mini_stream += entry.data.ljust(count * MINI, b"\x00")
            minifat += [first + i + 1 if i < count - 1 else ENDOFCHAIN for i in range(count)]
            entry.start = first
    entries[0].start = chain(mini_stream)
    entries[0].data = mini_stream
    minifat_start = chain(b"".join(struct.pack("<I", n) for n in minifat))
    minifat_sectors = (len(minifat) * 4 + SECTOR - 1) // SECTOR

    while len(entries) % (SECTOR // 128):
        entries.append(_Entry("", 0))  # unused entries fill the last sector
    directory = b"".join(_dir_entry(e) for e in entries)
    dir_start = chain(directory)

    # The FAT covers itself: grow until its own sectors fit.
    fat_sectors = 1
    while (len(sectors) + fat_sectors) > fat_sectors * (SECTOR // 4):
        fat_sectors += 1
    fat_first = len(sectors)
    fat += [FATSECT] * fat_sectors
    fat += [FREESECT] * (fat_sectors * (SECTOR // 4) - len(fat))
    fat_bytes = b"".join(struct.pack("<I", n) for n in fat)
    for i in range(fat_sectors):
        sectors.append(fat_bytes[i * SECTOR : (i + 1) * SECTOR])
    assert fat_sectors <= 109, "the test writer keeps the DIFAT in the header"

    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIII", 0, fat_sectors, dir_start, 0)
    header += struct.pack("<IIIII", CUTOFF, minifat_start, minifat_sectors, ENDOFCHAIN, 0)
    difat = [fat_first + i for i in range(fat_sectors)] + [FREESECT] * (109 - fat_sectors)
    header += b"".join(struct.pack("<I", n) for n in difat)
    assert len(header) == SECTOR
    return header + b"".join(sectors)


def _dir_entry(entry: _Entry) -> bytes:
    name = (entry.name + "\x00").encode("utf-16-le") if entry.kind else b""
    out = name.ljust(64, b"\x00") + struct.pack("<HBB", len(name), entry.kind, 1)
    out += struct.pack("<III", entry.left, entry.right, entry.child)
    out += b"\x00" * 16 + struct.pack("<I", 0) + b"\x00" * 16
    size = len(entry.data) if entry.kind in (2, 5) else 0
    out += struct.pack("<IQ", entry.start if entry.kind in (2, 5) else 0, size)
    return out


# MS-OXMSG on top of it.


def _unicode(pid: int, text: str) -> tuple[str, bytes]:
    return f"__substg1.0_{pid:04X}001F", text.encode("utf-16-le")


def _fixed(entries: Sequence[tuple[int, int, bytes]], header: bytes) -> bytes:
    body = b"".join(struct.pack("<HHI", t, p, 6) + v.ljust(8, b"\x00") for t, p, v in entries)
    return header + body


@dataclass(frozen=True)
class MsgFile:
    name: str
    data: bytes
    mime: str = ""
    content_id: str = ""


def outlook_msg(
    *,
    subject: str,
    sender: tuple[str, str],
    to: Sequence[tuple[str, str]] = (),
    cc: Sequence[tuple[str, str]] = (),
    sent: datetime | None = None,
    body: str = "",
    html: str = "",
    files: Sequence[MsgFile] = (),
) -> bytes:
    fixed: list[tuple[int, int, bytes]] = [(0x0003, 0x3FDE, struct.pack("<i", 65001))]
    if sent is not None:
        ticks = int((sent - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)
        fixed.append((0x0040, 0x0039, struct.pack("<Q", ticks)))
    recipients = [(n, a, 1) for n, a in to] + [(n, a, 2) for n, a in cc]
    header = struct.pack("<QIIII", 0, len(recipients), len(files), len(recipients), len(files))
    tree: dict[str, bytes | Tree] = {
        "__properties_version1.0": _fixed(fixed, header + b"\x00" * 8),
        "__substg1.0_001A001F": "IPM.Note".encode("utf-16-le"),
        "__nameid_version1.0": {},
    }
    tree.update(dict([_unicode(0x0037, subject), _unicode(0x0C1A, sender[0])]))
    tree.update(dict([_unicode(0x5D01, sender[1]), _unicode(0x0C1F, sender[1])]))
    if body:
        tree.update(dict([_unicode(0x1000, body)]))
    if html:
        tree["__substg1.0_10130102"] = html.encode("utf-8")
    for i, (name, address, kind) in enumerate(recipients):
        tree[f"__recip_version1.0_#{i:08X}"] = {
            "__properties_version1.0": _fixed(
                [(0x0003, 0x0C15, struct.pack("<i", kind))], b"\x00" * 8
            ),
            **dict([_unicode(0x3001, name), _unicode(0x39FE, address), _unicode(0x3003, address)]),
        }
    for i, f in enumerate(files):
        part: dict[str, bytes | Tree] = {
            "__properties_version1.0": _fixed(
                [(0x0003, 0x3705, struct.pack("<i", 1))], b"\x00" * 8
            ),
            "__substg1.0_37010102": f.data,
            **dict([_unicode(0x3707, f.name), _unicode(0x3704, f.name[:12])]),
        }
        if f.mime:
            part.update(dict([_unicode(0x370E, f.mime)]))
        if f.content_id:
            part.update(dict([_unicode(0x3712, f.content_id)]))
        tree[f"__attach_version1.0_#{i:08X}"] = part
    return compound_file(tree)

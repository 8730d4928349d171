"""Backup rotation: keep the newest archive of each of the last N days and M weeks.

Applied by `backup` after it wrote a new archive. Only archives named as
`backup` names them (helpdesk-backup-YYYYmmdd-HHMMSS[-N].tar.gz, UTC) are ever
considered; anything else in the directory is left alone. A day or a week
counts only when it has an archive, so a machine that was off for a while
still keeps N archives, not N empty days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

_NAME = re.compile(r"^helpdesk-backup-(\d{8}-\d{6})(?:-(\d+))?\.tar\.gz$")


@dataclass(frozen=True)
class Archive:
    path: Path
    taken: datetime
    number: int = 1  # the second backup of the same second is -2, and so on


def archives(directory: Path) -> list[Archive]:
    """The backup archives in directory, newest first."""
    found = []
    for path in directory.glob("helpdesk-backup-*.tar.gz"):
        match = _NAME.match(path.name)
        if match and path.is_file():
            try:
                taken = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S")
            except ValueError:
                continue
            found.append(Archive(path, taken, int(match.group(2) or 1)))
    return sorted(found, key=lambda a: (a.taken, a.number), reverse=True)


def to_keep(found: list[Archive], *, daily: int, weekly: int) -> set[Path]:
    """The archives the policy keeps: the newest of each of the `daily`
    latest days and of each of the `weekly` latest ISO weeks (a weekly one
    may also be a daily one), and always the newest archive of all."""
    keep: set[Path] = set()
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for archive in found:  # newest first: the first seen of a day is its newest
        day = archive.taken.date()
        week = day.isocalendar()[:2]
        if day not in days and len(days) < daily:
            keep.add(archive.path)
        if week not in weeks and len(weeks) < weekly:
            keep.add(archive.path)
        days.add(day)
        weeks.add(week)
    if found:
        keep.add(found[0].path)
    return keep


def rotate(directory: Path, *, daily: int, weekly: int) -> list[Path]:
    """Delete the archives the policy does not keep; the paths deleted.

    Both counts 0 turns rotation off (every archive is kept).
    """
    if daily <= 0 and weekly <= 0:
        return []
    found = archives(directory)
    keep = to_keep(found, daily=daily, weekly=weekly)
    deleted = []
    for archive in found:
        if archive.path not in keep:
            archive.path.unlink(missing_ok=True)
            deleted.append(archive.path)
    return deleted

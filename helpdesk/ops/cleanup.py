"""Orphan sweeper: files under MEDIA_ROOT/attachments that no row references.

An upload is written before its row commits, so a crash or a rolled-back
transaction can leave a file behind. Only files older than the grace period
are removed, so a transaction still in flight never loses its file.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from tickets.models import Attachment

GRACE_SECONDS = 24 * 3600


def orphan_files(*, older_than: float = GRACE_SECONDS) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    attachments = root / "attachments"
    if not attachments.is_dir():
        return []
    known = set(Attachment.objects.values_list("file", flat=True))
    cutoff = time.time() - older_than
    return [
        path
        for path in attachments.rglob("*")
        if path.is_file()
        and str(path.relative_to(root)) not in known
        and path.stat().st_mtime < cutoff
    ]


def remove_orphans(*, older_than: float = GRACE_SECONDS, dry_run: bool = False) -> list[Path]:
    orphans = orphan_files(older_than=older_than)
    if not dry_run:
        for path in orphans:
            path.unlink(missing_ok=True)
    return orphans

"""Orphan sweeper: attachment files and raw mails that no row references.

An upload, and a raw mail (durability rule 1), is written before its row
commits, so a crash or a rolled-back transaction can leave a file behind (a
batch of mails killed mid-way leaves up to three batches' raw files). Only
files older than the grace period are removed, so a transaction still in
flight never loses its file.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from config import objectstore
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


def orphan_raw_files(*, older_than: float = GRACE_SECONDS) -> list[Path]:
    """Raw mails (and unfinished temporary files) no InboundMessage points at."""
    from mailgateway.models import InboundMessage
    from mailgateway.store import raw_root

    root = raw_root()
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than
    old = [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    orphans: list[Path] = []
    for start in range(0, len(old), 500):  # bounded queries on an indexed column
        chunk = {str(p.relative_to(root)): p for p in old[start : start + 500]}
        known = set(
            InboundMessage.objects.filter(raw_path__in=list(chunk)).values_list(
                "raw_path", flat=True
            )
        )
        orphans += [path for relative, path in chunk.items() if relative not in known]
    return orphans


def orphan_objects(*, older_than: float = GRACE_SECONDS) -> list[tuple[str, str]]:
    """(kind, name) of the object store's attachments and raw mails no row
    names, older than the grace period (HELPDESK_S3_BUCKET)."""
    from helpdesk.ops.backup import object_storage
    from mailgateway.models import InboundMessage

    cutoff = time.time() - older_than
    found: list[tuple[str, str]] = []
    for kind, prefix, model, column in (
        ("media", "attachments/", Attachment, "file"),
        ("raw", "", InboundMessage, "raw_path"),
    ):
        old = [n for n, _size, mtime in object_storage(kind).keys(prefix) if mtime < cutoff]
        for start in range(0, len(old), 500):
            chunk = old[start : start + 500]
            known = set(
                model._default_manager.filter(**{f"{column}__in": chunk}).values_list(
                    column, flat=True
                )
            )
            found += [(kind, name) for name in chunk if name not in known]
    return found


def remove_orphans(*, older_than: float = GRACE_SECONDS, dry_run: bool = False) -> list[str]:
    """Remove (or with dry_run only list) the orphans; what they were."""
    if objectstore.configured():
        objects = orphan_objects(older_than=older_than)
        if not dry_run:
            from helpdesk.ops.backup import object_storage

            for kind, name in objects:
                object_storage(kind).delete(name)
        bucket = settings.HELPDESK_S3_BUCKET
        return [f"s3://{bucket}/{'raw/' if kind == 'raw' else ''}{name}" for kind, name in objects]
    orphans = orphan_files(older_than=older_than) + orphan_raw_files(older_than=older_than)
    if not dry_run:
        for path in orphans:
            path.unlink(missing_ok=True)
    return [str(path) for path in orphans]

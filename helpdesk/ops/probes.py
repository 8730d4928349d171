"""/healthz probes for the installation itself: migrations, processes, disk, jobs.

The mail and outbox probes live beside their apps; these are the ones an
operator of several hosts needs most: is every migration applied, is any
worker (and the scheduler, where one runs) alive, is there room to store the
next mail, did a scheduled job fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config import objectstore
from helpdesk.heartbeats import liveness, stale_after
from helpdesk.models import JobRun


def migrations_probe() -> dict[str, Any]:
    """Unhealthy while a migration is unapplied: the code expects tables or
    columns the database does not have yet (an upgrade half done)."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _back in plan]
    return {"ok": not pending, "pending": pending[:20]}


def worker_probe() -> dict[str, Any]:
    """Unhealthy when no worker has beaten for HELPDESK_WORKER_STALE_SECONDS:
    nothing delivers the outbox, however empty it is right now."""
    state = liveness("worker")
    return {
        "ok": state.ok,
        "alive": state.alive,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "stale_after_seconds": int(stale_after().total_seconds()),
    }


def scheduler_probe() -> dict[str, Any]:
    """The embedded scheduler, where one runs. An install on cron never starts
    it: no beat ever seen is 'not used', not a failure; a scheduler that beat
    and then went quiet is. Failed scheduled jobs are warnings."""
    state = liveness("scheduler")
    failed = list(
        JobRun.objects.filter(last_ok=False).values_list("name", "last_finished_at", "last_error")
    )
    warnings = [f"{name} failed at {at.isoformat() if at else '?'}" for name, at, _e in failed]
    return {
        "ok": state.last_seen is None or state.ok,
        "running": state.ok,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "failed_jobs": [name for name, _at, _e in failed],
        "warnings": warnings,
    }


def _free_mb(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free // (1024 * 1024)


def disk_probe() -> dict[str, Any]:
    """Room for the next mail where raw mails, attachments and the SQLite
    database are written: below HELPDESK_DISK_MIN_FREE_MB the doors answer
    451 soon, so say it before they do. With the object store only the data
    dir is local (the SQLite database, the cache, backups)."""
    floor = int(getattr(settings, "HELPDESK_DISK_MIN_FREE_MB", 200))
    places = {"data": Path(settings.DATA_DIR)}
    if not objectstore.configured():
        places["raw"] = Path(settings.HELPDESK_RAW_DIR)
        places["media"] = Path(settings.MEDIA_ROOT)
    free = {name: _free_mb(path) for name, path in places.items()}
    return {"ok": min(free.values()) >= floor, "free_mb": free, "min_free_mb": floor}


def object_store_probe() -> dict[str, Any]:
    """The bucket answers a HEAD with our credentials (registered only when
    HELPDESK_S3_BUCKET is set): while it does not, every door answers
    'retry later' and downloads fail. Names the bucket, never a credential."""
    try:
        objectstore.ping()
    except objectstore.ObjectStoreError as exc:
        cause = exc.__cause__
        return {
            "ok": False,
            "bucket": settings.HELPDESK_S3_BUCKET,
            "error": type(cause or exc).__name__,
        }
    return {"ok": True, "bucket": settings.HELPDESK_S3_BUCKET}

"""What the System page shows an admin: the /healthz checks, the processes
that beat, the outbox and webhook deliveries, the quarantine, the scheduler's
last runs and the versions. Reads only; the page's two actions (retry the
failed outbox rows, re-process the quarantine) call the outbound and
mailgateway functions the admin actions use."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.health import report
from helpdesk.heartbeats import stale_after
from helpdesk.models import Heartbeat, JobRun
from mailgateway.models import InboundMessage
from outbound.models import OutboxItem

ROWS = 10  # recent rows per list: the admin has the full, filterable tables

CHECK_LABELS = {
    "database": _("Database"),
    "migrations": _("Migrations"),
    "worker": _("Background worker"),
    "scheduler": _("Scheduler"),
    "disk": _("Disk space"),
    "object_store": _("Object store"),
    "outbox": _("Outbox"),
    "quarantine": _("Quarantine"),
    "imap": _("IMAP mailboxes"),
}


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    ok: bool
    detail: str  # the probe's own figures, as /healthz gives them to staff


@dataclass(frozen=True)
class Process:
    kind: str
    host: str
    pid: int
    started_at: Any
    seen_at: Any
    alive: bool


@dataclass(frozen=True)
class Overview:
    ok: bool
    checks: list[Check]
    processes: list[Process]
    outbox: dict[str, Any]
    failed_outbox: list[OutboxItem]
    webhooks: list[OutboxItem]
    quarantine: list[InboundMessage]
    quarantined: int
    jobs: list[JobRun]
    versions: list[tuple[str, str]]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def versions() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version"
        )
        database = str(cursor.fetchone()[0])
    return [
        ("Helpdesk", _version("helpdesk")),
        ("Python", platform.python_version()),
        ("Django", _version("Django")),
        (connection.display_name, database),
        ("aiosmtpd", _version("aiosmtpd")),
        ("imapclient", _version("imapclient")),
        ("django-anymail", _version("django-anymail")),
    ]


def system_overview() -> Overview:
    health = report()
    now = timezone.now()
    processes = [
        Process(b.kind, b.host, b.pid, b.started_at, b.seen_at, now - b.seen_at <= stale_after())
        for b in Heartbeat.objects.all()
    ]
    status = OutboxItem.Status
    checks = [
        Check(
            name,
            str(CHECK_LABELS.get(name, name)),
            bool(result.get("ok")),
            json.dumps({k: v for k, v in result.items() if k != "ok"}, indent=1, default=str),
        )
        for name, result in health["checks"].items()
    ]
    return Overview(
        ok=health["ok"],
        checks=checks,
        processes=processes,
        outbox=health["checks"].get("outbox", {}),
        failed_outbox=list(
            OutboxItem.objects.filter(status=status.FAILED)
            .select_related("endpoint")
            .order_by("-id")[:ROWS]
        ),
        webhooks=list(
            OutboxItem.objects.filter(kind=OutboxItem.Kind.WEBHOOK)
            .select_related("endpoint")
            .order_by("-id")[:ROWS]
        ),
        quarantine=list(
            InboundMessage.objects.filter(outcome=InboundMessage.Outcome.QUARANTINED)
            .defer("traceback", "verdict")
            .order_by("-received_at")[:ROWS]
        ),
        quarantined=InboundMessage.objects.filter(
            outcome=InboundMessage.Outcome.QUARANTINED
        ).count(),
        jobs=list(JobRun.objects.all()),
        versions=versions(),
    )

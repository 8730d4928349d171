"""The /healthz probe for the outbox: backlog, failures, oldest due row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from outbound.models import OutboxItem


def outbox_probe() -> dict[str, Any]:
    now = timezone.now()
    rows = OutboxItem.objects
    pending = rows.filter(status__in=[OutboxItem.Status.PENDING, OutboxItem.Status.SENDING])
    oldest_due = pending.filter(next_attempt_at__lte=now).aggregate(at=Min("next_attempt_at"))["at"]
    oldest_age = int((now - oldest_due).total_seconds()) if oldest_due else 0
    limit = int(getattr(settings, "HELPDESK_OUTBOX_MAX_LAG_SECONDS", 900))
    return {
        # Unhealthy when something due has waited too long: no worker running,
        # or the worker cannot keep up.
        "ok": oldest_age <= limit,
        "backlog": pending.count(),
        "failed": rows.filter(status=OutboxItem.Status.FAILED).count(),
        "oldest_pending_seconds": oldest_age,
        "sent_last_hour": rows.filter(
            status=OutboxItem.Status.SENT, sent_at__gte=now - timedelta(hours=1)
        ).count(),
    }

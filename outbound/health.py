"""The /healthz probe for the outbox: backlog, failures, oldest due row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from outbound.models import OutboxItem


def outbox_probe() -> dict[str, Any]:
    now = timezone.now()
    status, kind = OutboxItem.Status, OutboxItem.Kind
    waiting = Q(status__in=[status.PENDING, status.SENDING])
    counts = OutboxItem.objects.aggregate(
        backlog=Count("pk", filter=waiting),
        retrying=Count("pk", filter=waiting & Q(attempts__gt=0)),
        failed_mails=Count("pk", filter=Q(status=status.FAILED, kind=kind.EMAIL)),
        failed_webhooks=Count("pk", filter=Q(status=status.FAILED, kind=kind.WEBHOOK)),
        sent_last_hour=Count(
            "pk", filter=Q(status=status.SENT, sent_at__gte=now - timedelta(hours=1))
        ),
        oldest_due=Min("next_attempt_at", filter=waiting & Q(next_attempt_at__lte=now)),
    )
    oldest_due = counts.pop("oldest_due")
    oldest_age = int((now - oldest_due).total_seconds()) if oldest_due else 0
    limit = int(getattr(settings, "HELPDESK_OUTBOX_MAX_LAG_SECONDS", 900))
    return {
        # Unhealthy when something due has waited too long: no worker running,
        # or the worker cannot keep up. Failed rows gave up after their retries
        # (a permanent refusal): reported for an admin, not a failure of the
        # helpdesk itself.
        "ok": oldest_age <= limit,
        **counts,
        "failed": counts["failed_mails"] + counts["failed_webhooks"],
        "oldest_pending_seconds": oldest_age,
    }

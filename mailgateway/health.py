"""/healthz probe: mail waiting in quarantine or stuck unprocessed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from mailgateway.models import InboundMessage

# A mail pending longer than this was left behind by a crash or a database
# failure: `reprocess_quarantine` picks it up.
STALE_PENDING = timedelta(minutes=5)


def quarantine_probe() -> dict[str, Any]:
    stale = timezone.now() - STALE_PENDING
    counts = InboundMessage.objects.aggregate(
        quarantined=Count("pk", filter=Q(outcome=InboundMessage.Outcome.QUARANTINED)),
        pending=Count(
            "pk", filter=Q(outcome=InboundMessage.Outcome.PENDING, received_at__lt=stale)
        ),
    )
    # Quarantined mail is safe and waiting for an admin: reported, not a failure.
    # Mail stuck pending means processing is not happening: unhealthy.
    return {"ok": counts["pending"] == 0, **counts}

"""Bounce bookkeeping: the inbound gateway and ESP tracking webhooks report
bounces here; the outbox asks before every mail."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from outbound.models import BouncingAddress


def _key(email: str) -> str:
    return email.strip().strip("<>").lower()


@transaction.atomic
def mark_bouncing(*, email: str, reason: str = "") -> BouncingAddress:
    row, created = BouncingAddress.objects.get_or_create(
        email=_key(email), defaults={"reason": reason[:2000]}
    )
    if not created:
        BouncingAddress.objects.filter(pk=row.pk).update(
            bounces=F("bounces") + 1, reason=reason[:2000] or row.reason
        )
        row.refresh_from_db()
    return row


def is_bouncing(email: str) -> bool:
    return BouncingAddress.objects.filter(email=_key(email)).exists()


def clear_bouncing(*, email: str) -> None:
    BouncingAddress.objects.filter(email=_key(email)).delete()

"""Which notification mails an agent wants: every agent notice unless opted out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from outbound.models import AGENT_NOTIFICATIONS, NotificationOptOut


def receiving(user: Any) -> set[str]:
    """The agent notices user gets by mail."""
    off = set(NotificationOptOut.objects.filter(user=user).values_list("event", flat=True))
    return {str(n) for n in AGENT_NOTIFICATIONS} - off


@transaction.atomic
def receiving_set(*, user: Any, receive: Iterable[str]) -> None:
    """Keep exactly the agent notices in receive; opt out of the others."""
    off = {str(n) for n in AGENT_NOTIFICATIONS} - set(receive)
    NotificationOptOut.objects.filter(user=user).exclude(event__in=off).delete()
    NotificationOptOut.objects.bulk_create(
        [NotificationOptOut(user=user, event=event) for event in sorted(off)],
        ignore_conflicts=True,
    )

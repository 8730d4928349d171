"""Who else has a ticket open: heartbeats every ~15 s, forgotten after 45 s."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from helpdesk.models import TicketPresence
from tickets.models import Ticket

# Three missed heartbeats and the agent is gone (closed the tab, lost network).
STALE_AFTER = timedelta(seconds=45)


def presence_beat(*, user: Any, ticket: Ticket, state: str) -> None:
    if state not in TicketPresence.State.values:
        state = TicketPresence.State.VIEWING
    now = timezone.now()
    TicketPresence.objects.update_or_create(
        ticket=ticket, user=user, defaults={"state": state, "seen_at": now}
    )
    # Old rows are pruned here, in passing, so the table stays tiny without a cron job.
    TicketPresence.objects.filter(ticket=ticket, seen_at__lt=now - STALE_AFTER).delete()


def presence_leave(*, user: Any, ticket: Ticket) -> None:
    TicketPresence.objects.filter(ticket=ticket, user=user).delete()


def others_present(*, user: Any, ticket: Ticket) -> list[TicketPresence]:
    """Other staff on the ticket right now, replying first."""
    since = timezone.now() - STALE_AFTER
    rows = (
        TicketPresence.objects.filter(ticket=ticket, seen_at__gte=since, user__is_staff=True)
        .exclude(user=user)
        .select_related("user")
    )
    return sorted(rows, key=lambda p: (p.state != TicketPresence.State.REPLYING, p.user.email))

"""The customer's side of a resolution: confirm, reopen with a comment, rate.

Used by the ticket page and by the signed mail links (/feedback/<token>/).
Status changes and replies go through tickets.services like any other write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import SatisfactionRating
from tickets import services
from tickets.models import Source, Ticket
from tickets.states import Status


class ResolutionError(ValueError):
    """A feedback action that does not fit the ticket's state; the message is for the user."""


def is_requester(user: Any, ticket: Ticket) -> bool:
    return bool(user is not None and user.is_active and ticket.created_by_id == user.pk)


def can_confirm(user: Any, ticket: Ticket) -> bool:
    return is_requester(user, ticket) and ticket.status == Status.RESOLVED


def can_reopen(user: Any, ticket: Ticket) -> bool:
    if not is_requester(user, ticket) or ticket.merged_into_id is not None:
        return False
    if ticket.status == Status.RESOLVED:
        return True
    return ticket.status == Status.CLOSED and not _past_reopen_window(ticket)


def can_rate(user: Any, ticket: Ticket) -> bool:
    return (
        is_requester(user, ticket)
        and ticket.status == Status.CLOSED
        and not SatisfactionRating.objects.filter(ticket=ticket).exists()
    )


def _past_reopen_window(ticket: Ticket) -> bool:
    days = int(getattr(settings, "HELPDESK_REOPEN_WINDOW_DAYS", 14))
    closed = ticket.closed_at
    return closed is not None and timezone.now() - closed > timedelta(days=days)


def resolution_confirm(*, ticket: Ticket, user: Any) -> Ticket:
    """The requester says the resolution worked: resolved -> closed."""
    if not is_requester(user, ticket):
        raise ResolutionError(_("Only the requester can confirm this ticket."))
    if ticket.status == Status.CLOSED:
        return ticket  # a second click on the same link is not an error
    if ticket.status != Status.RESOLVED:
        raise ResolutionError(_("This ticket is not waiting for your confirmation."))
    return services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=user)


@transaction.atomic
def resolution_reopen(*, ticket: Ticket, user: Any, comment: str) -> Ticket:
    """The requester says it is not solved: their comment becomes a reply and
    the ticket goes back to open."""
    comment = comment.strip()
    if not comment:
        raise ResolutionError(_("Please tell us what is still wrong."))
    if not is_requester(user, ticket):
        raise ResolutionError(_("Only the requester can reopen this ticket."))
    if ticket.merged_into_id is not None:  # it lives on in the survivor
        raise ResolutionError(_("This ticket was merged into another one; reply there."))
    if ticket.status == Status.CLOSED:
        if _past_reopen_window(ticket):
            raise ResolutionError(
                _("This ticket was closed too long ago to reopen; please open a new ticket.")
            )
        services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=user)
    elif ticket.status != Status.RESOLVED:
        raise ResolutionError(_("This ticket is still open; just add a reply."))
    # A requester's reply on a resolved ticket reopens it (tickets.services).
    services.ticket_reply_add(ticket=ticket, author=user, body=comment, source=Source.WEB)
    ticket.refresh_from_db()
    return ticket


def rating_submit(
    *, ticket: Ticket, user: Any, score: int, comment: str = ""
) -> SatisfactionRating:
    if not is_requester(user, ticket):
        raise ResolutionError(_("Only the requester can rate this ticket."))
    if ticket.status != Status.CLOSED:
        raise ResolutionError(_("A ticket can be rated once it is closed."))
    if not 1 <= score <= 5:
        raise ResolutionError(_("Choose a rating from 1 to 5."))
    try:
        with transaction.atomic():
            return SatisfactionRating.objects.create(
                ticket=ticket, user=user, score=score, comment=comment.strip()[:2000]
            )
    except IntegrityError:
        raise ResolutionError(_("This ticket has already been rated. Thank you!")) from None


def satisfaction_summary(*, since: Any = None) -> dict[str, Any]:
    """Count, average and the 1-5 distribution of ratings (since a datetime, if given)."""
    qs: QuerySet[SatisfactionRating] = SatisfactionRating.objects.all()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    totals = qs.aggregate(count=Count("id"), average=Avg("score"))
    by_score = dict(qs.values_list("score").annotate(n=Count("id")).order_by())
    count = totals["count"] or 0
    return {
        "count": count,
        "average": totals["average"],
        "distribution": [
            {
                "score": s,
                "count": by_score.get(s, 0),
                "percent": round(100 * by_score.get(s, 0) / count) if count else 0,
            }
            for s in range(5, 0, -1)
        ],
        "satisfied_percent": (
            round(100 * (by_score.get(4, 0) + by_score.get(5, 0)) / count) if count else None
        ),
    }

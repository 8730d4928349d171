"""In-app notifications: who hears about a ticket change, and the bell's reads.

notify_on_ticket_change() is a tickets.events subscriber: it runs inside the
change's transaction and only writes Notification rows. The rules:
- quiet entries (auto-replies, bookkeeping) notify nobody;
- nobody is told about their own change;
- internal notes, and anything only staff may know, reach staff only;
- a customer only ever hears about tickets they requested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from helpdesk.models import Notification
from tickets import access, events
from tickets.models import Message, Ticket
from tickets.states import Status

Kind = Notification.Kind

# Status moves a requester wants to hear about when staff make them.
CUSTOMER_STATUSES = frozenset({Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED})

_MENTION_EMAIL = re.compile(r"(?<![\w.+-])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.UNICODE)


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "pk", None) is not None


def _staff() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_active=True, is_staff=True)


def _team_staff(ticket: Ticket) -> QuerySet[Any]:
    """The people who handle the ticket's team; every available agent when it has none."""
    if ticket.team_id is not None:
        return _staff().filter(teams=ticket.team_id)
    return _staff().filter(is_available=True)


def mentioned_staff(text: str) -> list[Any]:
    """Staff named in text as @email or @Full Name / @FirstName (case-insensitive)."""
    if "@" not in text:
        return []
    lowered = text.lower()
    emails = {m.lower().rstrip(".") for m in _MENTION_EMAIL.findall(text)}
    found = []
    for user in _staff().only("id", "email", "full_name", "is_staff", "is_active", "role"):
        names = [user.email]
        if user.full_name:
            names += [user.full_name.lower(), user.full_name.split()[0].lower()]
        if user.email in emails or any(_mentions(lowered, name) for name in names[1:]):
            found.append(user)
    return found


def _mentions(lowered_text: str, name: str) -> bool:
    # "@ana" must not match inside "@anabela".
    return re.search(rf"(?<![\w@])@{re.escape(name)}(?![\w])", lowered_text) is not None


class _Batch:
    """The rows one delivery of changes writes, and the team lists it reads
    (once per team, however many changes)."""

    def __init__(self) -> None:
        self.rows: list[Notification] = []
        self._teams: dict[int | None, list[Any]] = {}

    def team_staff(self, ticket: Ticket) -> list[Any]:
        """The people who handle the ticket's team; every available agent when it has none."""
        if ticket.team_id not in self._teams:
            self._teams[ticket.team_id] = list(_team_staff(ticket))
        return self._teams[ticket.team_id]

    def handlers(self, ticket: Ticket) -> list[Any]:
        return [ticket.assigned_to] if ticket.assigned_to is not None else self.team_staff(ticket)

    def add(
        self,
        recipients: Iterable[Any],
        *,
        ticket: Ticket,
        kind: str,
        actor: Any,
        staff_only: bool = False,
        detail: str = "",
        exclude: set[int] | None = None,
    ) -> set[int]:
        """One row per eligible recipient; returns the ids notified."""
        skip = set(exclude or ())
        if _is_user(actor):
            skip.add(actor.pk)
        done = set()
        for user in recipients:
            if user.pk in skip or user.pk in done or not user.is_active:
                continue
            if access.is_staff(user):
                if not access.can_view(user, ticket):
                    continue
            elif staff_only or user.pk != ticket.created_by_id:
                # A customer hears only about their own tickets, never staff-only news.
                continue
            done.add(user.pk)
            self.rows.append(
                Notification(
                    recipient=user,
                    ticket=ticket,
                    kind=kind,
                    actor=actor if _is_user(actor) else None,
                    detail=detail[:64],
                )
            )
        return done


def notify_on_ticket_change(changes: Sequence[events.TicketChanged]) -> None:
    batch = _Batch()
    for change in changes:
        if not change.quiet:
            _on_change(batch, change)
    # "Reply and set status": the reply's notice says it; a second one for the
    # status from the same person about the same ticket would be noise.
    replied = {
        (n.recipient_id, n.ticket_id, n.actor_id) for n in batch.rows if n.kind == Kind.REPLY
    }
    rows = [
        n
        for n in batch.rows
        if not (n.kind == Kind.STATUS and (n.recipient_id, n.ticket_id, n.actor_id) in replied)
    ]
    Notification.objects.bulk_create(rows)


def _on_change(batch: _Batch, event: events.TicketChanged) -> None:
    ticket, actor, message = event.ticket, event.actor, event.message
    if event.kind == "created":
        batch.add(batch.team_staff(ticket), ticket=ticket, kind=Kind.NEW_TICKET, actor=actor)
    elif event.kind == "assignee":
        if ticket.assigned_to is not None:
            batch.add([ticket.assigned_to], ticket=ticket, kind=Kind.ASSIGNED, actor=actor)
    elif event.kind in {"reply", "note"} and message is not None:
        _on_message(batch, ticket, actor, message)
    elif event.kind == "status":
        _on_status(batch, ticket, actor, event.new)
    elif event.kind == "bounced":
        # Whoever handles the ticket learns that a mail about it came back
        # (event.old: the address); the customer could not be told by mail.
        batch.add(
            batch.handlers(ticket),
            ticket=ticket,
            kind=Kind.BOUNCED,
            actor=None,
            staff_only=True,
            detail=event.old,
        )


def _on_message(batch: _Batch, ticket: Ticket, actor: Any, message: Message) -> None:
    internal = message.kind == Message.Kind.NOTE
    # Only staff mention staff: a customer cannot page agents by name.
    named = mentioned_staff(message.body) if access.is_staff(actor) else []
    mentioned = batch.add(named, ticket=ticket, kind=Kind.MENTION, actor=actor, staff_only=True)
    batch.add(
        batch.handlers(ticket),
        ticket=ticket,
        kind=Kind.NOTE if internal else Kind.REPLY,
        actor=actor,
        staff_only=internal,
        exclude=mentioned,
    )
    if not internal and access.is_staff(actor):
        batch.add([ticket.created_by], ticket=ticket, kind=Kind.REPLY, actor=actor)


def _on_status(batch: _Batch, ticket: Ticket, actor: Any, new: str) -> None:
    if access.is_staff(actor) or not _is_user(actor):
        if new in CUSTOMER_STATUSES:
            batch.add([ticket.created_by], ticket=ticket, kind=Kind.STATUS, actor=actor, detail=new)
        return
    # The requester confirmed or reopened: whoever handles the ticket hears it.
    batch.add(
        batch.handlers(ticket),
        ticket=ticket,
        kind=Kind.STATUS,
        actor=actor,
        detail=new,
        staff_only=True,
    )


# --- Reads for the bell and the list ---------------------------------------


def visible_notifications(user: Any) -> QuerySet[Notification]:
    """user's notifications; a customer's are limited to their own tickets again,
    in case a ticket changed hands after the row was written."""
    qs = Notification.objects.filter(recipient=user)
    if not access.is_staff(user):
        qs = qs.filter(ticket__created_by=user).exclude(kind=Kind.NOTE)
    return qs


def unread_count(user: Any) -> int:
    if not access.is_staff(user):
        return visible_notifications(user).filter(read_at__isnull=True).count()
    # Staff: one indexed COUNT on (recipient, read_at) and no join.
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user: Any, *, ticket: Ticket | None = None, ids: Iterable[int] = ()) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ticket is not None:
        qs = qs.filter(ticket=ticket)
    ids = list(ids)
    if ids:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())

"""Every read of tickets the adapters need, with access rules applied."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tickets import access
from tickets.models import Message, Ticket


def ticket_list(*, user: Any) -> QuerySet[Ticket]:
    """Tickets user may read, with what a list row shows fetched in the same query."""
    return access.visible_tickets(user).select_related(
        "category", "team", "assigned_to", "created_by"
    )


def ticket_get(*, user: Any, reference: str) -> Ticket:
    """The ticket by reference if user may read it; Ticket.DoesNotExist otherwise,
    so a guessed reference looks exactly like a missing one."""
    return ticket_list(user=user).get(reference=reference.upper())


def ticket_thread(*, ticket: Ticket, user: Any) -> QuerySet[Message]:
    """The thread in time order; internal notes only for staff."""
    messages = ticket.messages.select_related("author").prefetch_related("attachments")
    if not access.is_staff(user):
        messages = messages.exclude(kind=Message.Kind.NOTE)
    return messages

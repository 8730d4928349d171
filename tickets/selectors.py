"""Every read of tickets the adapters need, with access rules applied."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, QuerySet

from tickets import access, events
from tickets.models import MailId, Message, Ticket


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
    """The thread in time order, each message's attachments as a list in
    .attachment_list; internal notes only for staff."""
    # A plain list: the related manager's prefetch cache builds a queryset per
    # message, half the time of reading a 200-message thread.
    messages = ticket.messages.select_related("author").prefetch_related(
        Prefetch("attachments", to_attr="attachment_list")
    )
    if not access.is_staff(user):
        messages = messages.exclude(kind=Message.Kind.NOTE)
    return messages


def ticket_by_message_ids(message_ids: Iterable[str]) -> Ticket | None:
    """The ticket a mail answers, from its In-Reply-To/References ids (newest
    first), with its requester (the participant check reads it next)."""
    keys = [m.strip().strip("<>").strip() for m in message_ids if m and m.strip()]
    if not keys:
        return None
    rows = MailId.objects.filter(message_id__in=keys).select_related("ticket__created_by")
    found = {row.message_id: row.ticket for row in rows}
    for key in keys:
        if key in found:
            return found[key]
        held = events.held_mail_id(key)  # a mail earlier in the same batch
        if held is not None:
            return Ticket.objects.select_related("created_by").get(pk=held.ticket_id)
    return None

"""A ticket's thread as one time-ordered list: messages and audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickets import access, selectors
from tickets.models import Message, Ticket, TicketEvent

# Audit kinds that appear as lines in the thread; created/reply/note already
# show as the messages themselves.
STAFF_EVENT_KINDS = frozenset(
    {
        TicketEvent.Kind.STATUS,
        TicketEvent.Kind.PRIORITY,
        TicketEvent.Kind.ASSIGNEE,
        TicketEvent.Kind.TEAM,
        TicketEvent.Kind.CATEGORY,
        TicketEvent.Kind.MOVED,
        TicketEvent.Kind.MERGED,
        TicketEvent.Kind.TAGS,
        TicketEvent.Kind.SLA_WARNING,
        TicketEvent.Kind.SLA_BREACH,
        TicketEvent.Kind.BOUNCED,
    }
)
# A customer sees how their ticket moves, not who handles it internally.
CUSTOMER_EVENT_KINDS = frozenset({TicketEvent.Kind.STATUS})


@dataclass(frozen=True)
class Entry:
    when: datetime
    message: Message | None = None
    event: TicketEvent | None = None
    # For staff, how the mail gateway threaded a mail entry (InboundMessage.verdict).
    mail: dict[str, Any] | None = None


def ticket_entries(*, ticket: Ticket, user: Any) -> list[Entry]:
    """Messages (notes only for staff) and events interleaved by time, in two queries
    plus one for the messages' attachments."""
    messages = list(selectors.ticket_thread(ticket=ticket, user=user))
    kinds = STAFF_EVENT_KINDS if access.is_staff(user) else CUSTOMER_EVENT_KINDS
    events = list(ticket.events.filter(kind__in=kinds).select_related("actor"))
    _name_assignees(events)
    verdicts = _mail_verdicts(messages) if access.is_staff(user) else {}
    entries = [Entry(when=m.created_at, message=m, mail=verdicts.get(m.pk)) for m in messages]
    entries += [Entry(when=e.created_at, event=e) for e in events]
    entries.sort(key=lambda e: e.when)
    return entries


def _name_assignees(events: list[TicketEvent]) -> None:
    """Assignee events store addresses; the thread names people (one query):
    event.assignee_name, and event.took when the actor assigned themselves."""
    assigned = [e for e in events if e.kind == TicketEvent.Kind.ASSIGNEE]
    emails = {e.new_value for e in assigned if e.new_value}
    if not emails:
        return
    from helpdesk.models import User

    names = dict(User.objects.filter(email__in=emails).values_list("email", "full_name"))
    for event in assigned:
        event.assignee_name = names.get(event.new_value) or event.new_value  # type: ignore[attr-defined]
        event.took = bool(event.actor and event.actor.email == event.new_value)  # type: ignore[attr-defined]


def _mail_verdicts(messages: list[Message]) -> dict[int, dict[str, Any]]:
    """Threading verdicts of the mail entries, in one query."""
    from mailgateway import verdicts
    from mailgateway.models import InboundMessage

    mail_ids = [m.pk for m in messages if m.source == "email"]
    if not mail_ids:
        return {}
    rows = InboundMessage.objects.filter(entry_id__in=mail_ids).values_list("entry_id", "verdict")
    return {entry_id: verdicts.for_display(verdict or {}) for entry_id, verdict in rows}

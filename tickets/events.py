"""What the domain announces when a ticket changes.

Adapters (outbound mail, webhooks, in-app notifications) subscribe in their
AppConfig.ready(). Subscribers run inside the transaction of the change, so
whatever they write (outbox rows) commits or rolls back with it; they must
never do network I/O here, only record what to deliver after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tickets.models import Message, Ticket


@dataclass(frozen=True)
class TicketChanged:
    """kind is a TicketEvent.Kind value: created, status, priority, assignee, team,
    category, reply, note, moved."""

    kind: str
    ticket: Ticket
    actor: Any = None  # the user who made the change, None for the system
    message: Message | None = None
    old: str = ""
    new: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[TicketChanged], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def emit(event: TicketChanged) -> None:
    for subscriber in list(_subscribers):
        subscriber(event)

"""What the domain announces when a ticket changes.

Adapters (outbound mail, webhooks, in-app notifications) subscribe in their
AppConfig.ready(). Subscribers run inside the transaction of the change, so
whatever they write (outbox rows) commits or rolls back with it; they must
never do network I/O here, only record what to deliver after commit.

A subscriber takes a sequence of changes: usually one, announced as it
happens; inside `held()` (the mail gateway's batches) all the changes of the
block at its end, so a subscriber reads its settings and writes its rows once
per batch instead of once per change. A change's audit row comes with it
(emit's record) and is saved as it is announced: held, in one INSERT at the
end of the block, before the subscribers run. So are the
Message-ID map rows written meanwhile (tickets.services.mail_ids_add; the
threading lookup reads the held ones too, see held_mail_id).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tickets.models import MailId, Message, Ticket, TicketEvent


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

    @property
    def quiet(self) -> bool:
        """Auto-replies and bookkeeping entries: recorded, announced to nobody."""
        return bool(self.extra.get("quiet") or (self.message is not None and self.message.is_quiet))


Subscriber = Callable[[Sequence[TicketChanged]], None]
_subscribers: list[Subscriber] = []


class Hold:
    """Changes announced inside held(), in order, not yet delivered."""

    def __init__(self) -> None:
        self.pending: list[TicketChanged] = []
        self.records: list[TicketEvent] = []  # unsaved audit rows, in order
        self.mail_ids: dict[str, MailId] = {}  # unsaved, by Message-ID, first writer wins

    def checkpoint(self) -> tuple[int, int, int]:
        return len(self.pending), len(self.records), len(self.mail_ids)

    def rollback(self, checkpoint: tuple[int, int, int]) -> None:
        """Forget what was announced since checkpoint (its savepoint rolled back)."""
        del self.pending[checkpoint[0] :]
        del self.records[checkpoint[1] :]
        for key in list(self.mail_ids)[checkpoint[2] :]:  # dicts keep insertion order
            del self.mail_ids[key]

    def save_records(self) -> None:
        TicketEvent.objects.bulk_create(self.records)
        self.records.clear()
        if self.mail_ids:
            # A Message-ID the table already holds keeps its ticket.
            MailId.objects.bulk_create(list(self.mail_ids.values()), ignore_conflicts=True)
            self.mail_ids.clear()


_local = threading.local()  # a hold belongs to the thread (and transaction) that opened it


def subscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def _deliver(changes: Sequence[TicketChanged]) -> None:
    if changes:
        for subscriber in list(_subscribers):
            subscriber(changes)


def current() -> Hold | None:
    """The hold open in this thread, if any."""
    return getattr(_local, "hold", None)


def held_mail_id(message_id: str) -> MailId | None:
    """A Message-ID map row written in the open hold, not saved yet."""
    hold = current()
    return hold.mail_ids.get(message_id) if hold is not None else None


def emit(event: TicketChanged, record: TicketEvent | None = None) -> None:
    """Announce event; record (its unsaved audit row) is saved first."""
    hold = current()
    if hold is not None:
        hold.pending.append(event)
        if record is not None:
            hold.records.append(record)
        return
    if record is not None:
        record.save()
    _deliver([event])


@contextlib.contextmanager
def held() -> Iterator[Hold]:
    """Collect the changes announced in the block and deliver them together
    when it ends normally (an exception discards them). Open it inside the
    transaction whose rows the subscribers' writes must join. Inside another
    held() block it joins that one, which delivers."""
    outer = current()
    if outer is not None:
        yield outer
        return
    hold = _local.hold = Hold()
    try:
        yield hold
    finally:
        _local.hold = None
    hold.save_records()
    _deliver(hold.pending)

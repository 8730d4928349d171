"""Who hears of what: ticket events become notification mails in the outbox.

Runs inside the ticket change's transaction (tickets.events), so it only
reads and writes rows: recipients, the thread's Message-IDs, outbox items.
Rendering happens at delivery, so a broken template an admin saved can
never roll a ticket change back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from outbound.conf import support_name
from outbound.enqueue import outbox_add
from outbound.formatted import FORWARD
from outbound.headers import bare_id, format_references, new_message_id, support_address
from outbound.models import (
    AGENT_NOTIFICATIONS,
    BouncingAddress,
    Notification,
    NotificationOptOut,
    NotificationSetting,
    OutboxItem,
    reply_is_internal,
)
from outbound.tokens import forward_address, reply_address
from tickets.events import TicketChanged
from tickets.models import MailId, Message, Source, Ticket
from tickets.services import mail_ids_add
from tickets.states import Priority, Status

# Automatic mails answering the customer's own mail are "auto-replied"
# (RFC 3834 section 5); every other automatic mail is "auto-generated". An
# agent's reply is written by a person and carries neither.
AUTO_REPLIED = frozenset({Notification.TICKET_CREATED})
HUMAN_WRITTEN = frozenset({Notification.AGENT_REPLY, FORWARD})
# RFC 3834 section 2: a responder must not answer one sender again and again.
# An acknowledgement answers a mail; a responder that answers it with a new
# mail of its own (no Auto-Submitted, a subject of its own: a broken vacation
# responder) opens a ticket each time, and each got its acknowledgement: the
# rate guard (mailgateway.autoreply) stopped the loop only at 20 mails each
# way (found by B12). At most AUTO_REPLY_LIMIT acknowledgements of tickets
# opened by mail go to one address in AUTO_REPLY_WINDOW (a ticket opened on
# the web answers no mail); the tickets are made all the same. Once one is
# held back the responder has nothing to answer, so the loop ends there.
AUTO_REPLY_LIMIT = 3
AUTO_REPLY_WINDOW = timedelta(hours=1)
# Keep References short enough for every client: the root plus the latest.
MAX_REFERENCES = 20
RECENT_IDS = 100


@dataclass(frozen=True)
class Planned:
    name: str
    email: str
    display_name: str
    user: Any = None  # a User, or None for a CC address without an account


def _is_staff(user: Any) -> bool:
    return bool(user is not None and user.is_active and user.is_staff)


def _display(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() if hasattr(user, "get_full_name") else user)


def _agents() -> QuerySet[Any]:
    return get_user_model().objects.filter(is_active=True, is_staff=True)


class Agents:
    """The available agents per team, read once per delivery of changes."""

    def __init__(self) -> None:
        self._by_team: dict[int | None, list[Any]] = {}

    def of_team(self, team_id: int | None) -> list[Any]:
        """The available agents of the team, or every available agent (None)."""
        if team_id not in self._by_team:
            agents = _agents().filter(is_available=True)
            if team_id is not None:
                agents = agents.filter(teams=team_id)
            self._by_team[team_id] = list(agents.order_by("id"))
        return self._by_team[team_id]

    def of_team_or_all_members(self, team_id: int | None) -> list[Any]:
        """The available agents of the team; when none is available, every
        active member, so the team hears of a ticket waiting in its queue."""
        available = self.of_team(team_id)
        if available or team_id is None:
            return available
        return list(_agents().filter(teams=team_id).order_by("id"))


def _handlers(ticket: Ticket, agents: Agents) -> list[Any]:
    """The assignee, or the team's available agents when nobody is assigned."""
    if ticket.assigned_to_id is not None:
        assignee = ticket.assigned_to
        return [assignee] if _is_staff(assignee) else []
    return agents.of_team(ticket.team_id)


def _requester(ticket: Ticket, name: str) -> list[Planned]:
    requester = ticket.created_by
    if not requester.is_active:
        return []
    return [Planned(name, requester.email, _display(requester), requester)]


def plan(event: TicketChanged, agents: Agents | None = None) -> list[Planned]:
    """The mails an event causes, before switches, opt-outs and bounces."""
    agents = agents or Agents()
    ticket, kind = event.ticket, event.kind
    message = event.message
    out: list[Planned] = []

    def to_users(name: str, users: list[Any]) -> None:
        out.extend(Planned(name, u.email, _display(u), u) for u in users)

    if kind == "created":
        out += _requester(ticket, Notification.TICKET_CREATED)
        # Notices follow routing: the agent it was assigned to at once, else its team.
        if ticket.assigned_to_id is not None and _is_staff(ticket.assigned_to):
            to_users(Notification.NEW_TICKET, [ticket.assigned_to])
        else:
            to_users(Notification.NEW_TICKET, agents.of_team_or_all_members(ticket.team_id))
    elif kind == "reply" and message is not None:
        author = message.author
        if _is_staff(author):
            out += _requester(ticket, Notification.AGENT_REPLY)
            cc_users = {
                u.email: u
                for u in get_user_model().objects.filter(
                    email__in=list(ticket.ccs.values_list("email", flat=True)), is_active=True
                )
            }
            for cc in ticket.ccs.all():
                user = cc_users.get(cc.email)
                out.append(
                    Planned(
                        Notification.AGENT_REPLY,
                        cc.email,
                        _display(user) if user else cc.name,
                        user,
                    )
                )
            # Blind copies: this mail only, and no reply token even for an
            # account, so an answer cannot join the ticket as theirs.
            out.extend(
                Planned(Notification.AGENT_REPLY, email, "", None)
                for email in event.extra.get("bcc", ())
            )
        else:
            to_users(Notification.CUSTOMER_REPLY, _handlers(ticket, agents))
    elif kind == "note":
        if message is not None and message.forwarded_to:
            out.append(Planned(FORWARD, message.forwarded_to, ""))
        to_users(Notification.NOTE_ADDED, _handlers(ticket, agents))
    elif kind == "assignee" and ticket.assigned_to_id is not None:
        to_users(Notification.ASSIGNED, [ticket.assigned_to])
    elif kind == "team" and ticket.assigned_to_id is None and ticket.team_id is not None:
        to_users(Notification.ASSIGNED, agents.of_team(ticket.team_id))
    elif kind == "status":
        if event.new == Status.RESOLVED:
            out += _requester(ticket, Notification.TICKET_RESOLVED)
        elif event.new == Status.CLOSED:
            out += _requester(ticket, Notification.TICKET_CLOSED)
        elif event.old in {Status.RESOLVED, Status.CLOSED} and event.new in {
            Status.OPEN,
            Status.IN_PROGRESS,
        }:
            to_users(Notification.REOPENED, _handlers(ticket, agents))
    elif kind == "priority" and event.new == Priority.URGENT:
        team = agents.of_team(ticket.team_id)
        if ticket.assigned_to_id is not None and _is_staff(ticket.assigned_to):
            team = [ticket.assigned_to, *[u for u in team if u.pk != ticket.assigned_to_id]]
        to_users(Notification.URGENT, team)
    elif kind == "sla_warning":
        to_users(Notification.SLA_WARNING, _handlers(ticket, agents))
    return out


def per_hour_cap() -> int:
    return int(getattr(settings, "HELPDESK_NOTIFY_MAX_PER_HOUR", 30))


def _sent_last_hour(emails: list[str]) -> Counter[str]:
    if not per_hour_cap():
        return Counter()
    rows = (
        OutboxItem.objects.filter(
            kind=OutboxItem.Kind.EMAIL,
            recipient__in=emails,
            created_at__gte=timezone.now() - timedelta(hours=1),
        )
        .exclude(status=OutboxItem.Status.SKIPPED)
        .values_list("recipient")
        .annotate(n=Count("id"))
    )
    return Counter({recipient.lower(): n for recipient, n in rows})


def _auto_replied_recently(emails: list[str]) -> Counter[str]:
    rows = (
        OutboxItem.objects.filter(
            kind=OutboxItem.Kind.EMAIL,
            event__in=list(AUTO_REPLIED),
            ticket__source=Source.EMAIL,
            recipient__in=emails,
            created_at__gte=timezone.now() - AUTO_REPLY_WINDOW,
        )
        .exclude(status=OutboxItem.Status.SKIPPED)
        .values_list("recipient")
        .annotate(n=Count("id"))
    )
    return Counter({recipient.lower(): n for recipient, n in rows})


@dataclass(frozen=True)
class Rules:
    """Switched-off events, bouncing addresses and opt-outs, read once for
    every mail a delivery of changes plans."""

    disabled: frozenset[str]
    bouncing: frozenset[str]
    opted_out: frozenset[tuple[int, str]]
    sent_last_hour: Counter[str]  # mails queued per address in the last hour
    auto_replied: Counter[str]  # acknowledgements of mails per address in AUTO_REPLY_WINDOW

    @classmethod
    def load(cls, planned: list[Planned]) -> Rules:
        emails = list({p.email.lower() for p in planned})
        user_ids = list({p.user.pk for p in planned if p.user is not None})
        return cls(
            sent_last_hour=_sent_last_hour(emails),
            auto_replied=_auto_replied_recently(emails),
            disabled=frozenset(
                NotificationSetting.objects.filter(enabled=False).values_list("event", flat=True)
            ),
            bouncing=frozenset(
                BouncingAddress.objects.filter(email__in=emails).values_list("email", flat=True)
            ),
            opted_out=frozenset(
                NotificationOptOut.objects.filter(user_id__in=user_ids).values_list(
                    "user_id", "event"
                )
            ),
        )


def _filter(
    planned: list[Planned], event: TicketChanged, rules: Rules | None = None
) -> list[Planned]:
    """Drop the actor, duplicates, switched-off events, opt-outs, bouncing
    addresses and (for agent notices) anyone who is not staff."""
    if not planned:
        return []
    rules = rules or Rules.load(planned)
    actor_email = (getattr(event.actor, "email", "") or "").lower()
    seen: set[str] = set()
    kept: list[Planned] = []
    for p in planned:
        email = p.email.lower()
        if p.name in rules.disabled or email in rules.bouncing or email in seen:
            continue
        if email == actor_email and (
            p.name in AGENT_NOTIFICATIONS or p.name == Notification.AGENT_REPLY
        ):
            continue  # nobody needs a mail about what they just did
        if p.name in AGENT_NOTIFICATIONS and (
            not _is_staff(p.user) or (p.user.pk, p.name) in rules.opted_out
        ):
            continue
        seen.add(email)
        kept.append(p)
    return kept


Row = tuple[str, bool, str | None]  # Message-ID, ours (outbound), its author's address


class Threads:
    """The Message-IDs each recipient knows of each ticket that a delivery of
    changes mails about, read in two queries for all of them.

    Per recipient, oldest first: the first mail that opened the ticket, the
    mails they wrote to it and the mails we sent them. In-Reply-To is the last
    of these, so the new mail nests under the one before it in that person's
    own mailbox (Gmail, Outlook, Thunderbird, Apple Mail); References always
    starts at the root."""

    def __init__(self, tickets: list[Ticket], emails: list[str]) -> None:
        # Bounded work on long threads: the newest ids of each ticket (enough
        # to find each recipient's latest ones) and its root. By id, not
        # created_at: the (ticket_id, id) index serves the order.
        newest = (
            MailId.objects.filter(ticket__in=tickets)
            .annotate(
                rank=Window(RowNumber(), partition_by=[F("ticket_id")], order_by=F("id").desc())
            )
            .filter(rank__lte=RECENT_IDS)
            .order_by("id")
            .values_list("ticket_id", "message_id", "outbound", "entry__author__email")
        )
        self.rows: dict[int, list[Row]] = {t.pk: [] for t in tickets}
        for ticket_id, message_id, outbound, author in newest:
            self.rows[ticket_id].append((message_id, outbound, author))
        self.roots = {pk: self._root(pk, rows) for pk, rows in self.rows.items()}
        ours = [mid for rows in self.rows.values() for mid, outbound, _a in rows if outbound]
        self.sent: dict[str, set[str]] = {}
        if ours:
            for recipient, message_id in OutboxItem.objects.filter(
                message_id__in=ours, recipient__in=emails
            ).values_list("recipient", "message_id"):
                self.sent.setdefault(recipient.lower(), set()).add(message_id)

    @staticmethod
    def _root(ticket_id: int, rows: list[Row]) -> str | None:
        if len(rows) < RECENT_IDS:  # the whole map: the root is in it
            return next((mid for mid, outbound, _author in rows if not outbound), None)
        return (
            MailId.objects.filter(ticket_id=ticket_id, outbound=False)
            .order_by("id")
            .values_list("message_id", flat=True)
            .first()
        )

    def known(self, ticket: Ticket, email: str) -> list[str]:
        rows, root = self.rows[ticket.pk], self.roots[ticket.pk]
        if root is not None and all(mid != root for mid, _out, _author in rows):
            rows = [(root, False, None), *rows]
        mine = self.sent.get(email.lower(), set())
        ids = [
            mid
            for mid, outbound, author in rows
            if mid == root
            or mid in mine
            or (not outbound and (author or "").lower() == email.lower())
        ]
        if len(ids) > MAX_REFERENCES:
            ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
        return ids

    def queued(self, ticket: Ticket, email: str, message_id: str) -> None:
        """A mail queued in this delivery: a later change of the same
        delivery answers it, as it would have one change at a time."""
        self.rows[ticket.pk].append((message_id, True, None))
        self.sent.setdefault(email.lower(), set()).add(message_id)


def _from_name(name: str, event: TicketChanged) -> str:
    base = support_name()
    author = event.message.author if event.message is not None else None
    if name in {
        Notification.AGENT_REPLY,
        Notification.CUSTOMER_REPLY,
        Notification.NOTE_ADDED,
        FORWARD,
    }:
        # "Ana via Support": the person's name, never their address.
        who = _display(author)
        if who:
            return f"{who} via {base}"
    return base


def _dedupe_key(name: str, ticket: Ticket, anchor: str, email: str) -> str:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:20]
    return f"mail:{name}:{ticket.pk}:{anchor}:{digest}"


def on_ticket_changed(changes: Sequence[TicketChanged]) -> None:
    """Queue the notification mails of changes: one read of the rules and one
    INSERT of outbox rows and of their Message-IDs for all of them."""
    agents = Agents()
    folded = _folded_statuses(changes)  # id(reply) -> the status change it carries
    reopens = _folded_reopens(changes)
    carried = {id(status) for status in folded.values()}
    carried_reopens = {id(status) for status in reopens.values()}
    folded.update(reopens)
    # A ticket assigned as it opens: its assignee's "new ticket" notice says it all.
    opened = {c.ticket.pk for c in changes if c.kind == "created"}
    plans = [
        (c, plan(c, agents))
        for c in changes
        if not c.quiet and not (c.kind in {"assignee", "team"} and c.ticket.pk in opened)
    ]
    plans = [
        (
            c,
            [
                p
                for p in planned
                if not (id(c) in carried and p.name in REQUESTER_STATUS)
                and not (id(c) in carried_reopens and p.name == Notification.REOPENED)
            ],
        )
        for c, planned in plans
    ]
    plans = [(c, planned) for c, planned in plans if planned]
    if not plans:
        return
    rules = Rules.load([p for _c, planned in plans for p in planned])
    mails = [(c, kept) for c, planned in plans if (kept := _filter(planned, c, rules))]
    if not mails:
        return
    threads = Threads(
        list({c.ticket.pk: c.ticket for c, _kept in mails}.values()),
        list({p.email for _c, kept in mails for p in kept}),
    )
    items: list[OutboxItem] = []
    entries: dict[str, tuple[Ticket, Message | None]] = {}
    cap, sent = per_hour_cap(), rules.sent_last_hour
    for change, kept in mails:
        anchor = str(change.message.pk) if change.message is not None else uuid.uuid4().hex[:16]
        status = folded.get(id(change))
        for p in kept:
            item = _outbox_item(
                change, p, threads.known(change.ticket, p.email), anchor, status=status
            )
            sent[p.email.lower()] += 1
            answers_a_mail = p.name in AUTO_REPLIED and change.ticket.source == Source.EMAIL
            if answers_a_mail:
                rules.auto_replied[p.email.lower()] += 1
            if answers_a_mail and rules.auto_replied[p.email.lower()] > AUTO_REPLY_LIMIT:
                item.status = OutboxItem.Status.SKIPPED
                item.last_error = (
                    f"over {AUTO_REPLY_LIMIT} acknowledgements to this address "
                    "in an hour (a mail loop?)"
                )
            elif cap and sent[p.email.lower()] > cap:
                # A storm (a loop, a runaway bulk edit) must not flood anyone's
                # mailbox: kept as skipped, visible in the outbox, never sent.
                item.status = OutboxItem.Status.SKIPPED
                item.last_error = f"over the cap of {cap} mails an hour to this address"
            else:
                threads.queued(change.ticket, p.email, item.message_id)
                entries[item.dedupe_key] = (change.ticket, change.message)
            items.append(item)
    created = outbox_add(items)
    # Replies quote these Message-IDs; the gateway threads them back here.
    mail_ids_add(
        [(*entries[i.dedupe_key], i.message_id) for i in created if i.dedupe_key in entries],
        outbound=True,
    )


# What the requester hears of a status change by mail (the resolution question,
# the closing notice): folded into the agent's reply when both come together.
REQUESTER_STATUS = frozenset({Notification.TICKET_RESOLVED, Notification.TICKET_CLOSED})


def _folded_statuses(changes: Sequence[TicketChanged]) -> dict[int, TicketChanged]:
    """id(staff reply) -> its status change, for "reply and set status": the
    same person, the same ticket, in one delivery. The requester then gets ONE
    mail, the reply, carrying the resolution links, not a reply and a notice."""
    replies = {
        (c.ticket.pk, getattr(c.actor, "pk", None)): c
        for c in changes
        if c.kind == "reply" and c.message is not None and _is_staff(c.message.author)
    }
    folded: dict[int, TicketChanged] = {}
    for c in changes:
        reply = replies.get((c.ticket.pk, getattr(c.actor, "pk", None)))
        if c.kind == "status" and reply is not None and c.new in {Status.RESOLVED, Status.CLOSED}:
            folded[id(reply)] = c
    return folded


def _folded_reopens(changes: Sequence[TicketChanged]) -> dict[int, TicketChanged]:
    """id(customer reply) -> the reopen it caused: the agents get ONE mail,
    the reply saying it reopened the ticket, not a reply and a notice."""
    replies = {
        (c.ticket.pk, getattr(c.actor, "pk", None)): c
        for c in changes
        if c.kind == "reply" and c.message is not None and not _is_staff(c.message.author)
    }
    folded: dict[int, TicketChanged] = {}
    for c in changes:
        reply = replies.get((c.ticket.pk, getattr(c.actor, "pk", None)))
        if (
            c.kind == "status"
            and reply is not None
            and c.old in {Status.RESOLVED, Status.CLOSED}
            and c.new in {Status.OPEN, Status.IN_PROGRESS}
        ):
            folded[id(reply)] = c
    return folded


def _outbox_item(
    change: TicketChanged,
    p: Planned,
    references: list[str],
    anchor: str,
    *,
    status: TicketChanged | None = None,
) -> OutboxItem:
    """status: the status change folded into this reply (its old/new go in the payload)."""
    ticket, message = change.ticket, change.message
    message_id = new_message_id()
    headers = {"Message-ID": message_id, "X-Auto-Response-Suppress": "All"}
    if references:
        headers["References"] = format_references(references)
        headers["In-Reply-To"] = f"<{bare_id(references[-1])}>"
    if p.name in AUTO_REPLIED and ticket.source == Source.EMAIL:
        headers["Auto-Submitted"] = "auto-replied"  # it answers the customer's mail
    elif p.name not in HUMAN_WRITTEN:
        headers["Auto-Submitted"] = "auto-generated"
    user = p.user
    internal = reply_is_internal(p.name)
    return OutboxItem(
        kind=OutboxItem.Kind.EMAIL,
        event=p.name,
        recipient=p.email,
        message_id=bare_id(message_id),
        ticket=ticket,
        dedupe_key=_dedupe_key(p.name, ticket, anchor, p.email),
        payload={
            "template": p.name,
            "to": p.email,
            "to_name": p.display_name,
            "user_id": user.pk if user is not None else None,
            "language": getattr(user, "language", "") or settings.LANGUAGE_CODE,
            "is_staff": _is_staff(user),
            "ticket_id": ticket.pk,
            "message_pk": message.pk if isinstance(message, Message) else None,
            "actor_id": getattr(change.actor, "pk", None),
            "old": (status or change).old,
            "new": (status or change).new,
            "from_name": _from_name(p.name, change),
            "from_email": support_address(),
            "reply_to": forward_address(ticket.pk, message.pk)
            if p.name == FORWARD and isinstance(message, Message)
            else reply_address(ticket.pk, user.pk, internal=internal)
            if user is not None
            else settings.HELPDESK_SUPPORT_ADDRESS,
            "reply_internal": internal,
            "reason": str(change.extra.get("reason", ""))[:500],
            "headers": headers,
        },
    )

"""Every read of tickets the adapters need, with access rules applied."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)

from tickets import access, events
from tickets.models import MailId, Message, Tag, Ticket


def ticket_list(*, user: Any) -> QuerySet[Ticket]:
    """Tickets user may read, with what a list row shows fetched in the same query."""
    return access.visible_tickets(user).select_related(
        "category", "team", "assigned_to", "created_by"
    )


def with_tags(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Each ticket's tags by name in .tag_list, one query for the whole page."""
    return queryset.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr="tag_list")
    )


def with_waiting_since(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Each ticket's .waiting_since: the first public message from the
    customer's side that no public staff reply has answered yet (None when
    the last word was ours). Correlated subqueries, computed for the rows a
    page shows (the (ticket, created_at) index serves both)."""
    public = Message.objects.filter(kind=Message.Kind.REPLY, is_quiet=False)
    answered_later = public.filter(
        ticket=OuterRef(OuterRef("pk")),
        author__is_staff=True,
        created_at__gte=OuterRef("created_at"),
    )
    unanswered = (
        public.filter(ticket=OuterRef("pk"))
        .exclude(author__is_staff=True)
        .filter(~Exists(answered_later))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    return queryset.annotate(waiting_since=Subquery(unanswered))


def ticket_get(*, user: Any, reference: str) -> Ticket:
    """The ticket by reference if user may read it; Ticket.DoesNotExist otherwise,
    so a guessed reference looks exactly like a missing one."""
    return ticket_list(user=user).get(reference=reference.upper())


def ticket_thread(*, ticket: Ticket, user: Any) -> QuerySet[Message]:
    """The thread in time order as user may see it (messages_visible), each
    message's attachments as a list in .attachment_list."""
    # A plain list: the related manager's prefetch cache builds a queryset per
    # message, half the time of reading a 200-message thread.
    messages = ticket.messages.select_related("author").prefetch_related(
        Prefetch("attachments", to_attr="attachment_list")
    )
    return messages_visible(messages, user)


def thread_message(*, ticket: Ticket, user: Any, pk: int) -> Message | None:
    """One entry of ticket's thread as user may see it (as ticket_thread
    reads it), None when it is not theirs to see or not there."""
    return ticket_thread(ticket=ticket, user=user).filter(pk=pk).first()


def messages_visible(messages: QuerySet[Message], user: Any) -> QuerySet[Message]:
    """The one rule of what reaches a customer, for every page, fragment and
    API that shows thread entries: read .shown_html and .shown_quoted, never
    body_html and quoted.

    Staff see everything. Anyone else sees public replies only (no internal
    notes, no system events such as mail-command results) and, of a mail an
    agent wrote, only the text written: its quoted history and its HTML (which
    holds that history) may quote staff-only notices the agent was answering.
    .shown_bcc: the blind copies of a staff reply, for staff only.
    """
    messages = messages.defer("body_html", "quoted", "bcc")
    if access.is_staff(user):
        return messages.annotate(
            shown_html=F("body_html"), shown_quoted=F("quoted"), shown_bcc=F("bcc")
        )
    by_staff = Q(author__is_staff=True)

    def unless_by_staff(field: str, keep: Q | None = None) -> Case:
        hidden = by_staff if keep is None else by_staff & ~keep
        return Case(When(hidden, then=Value("")), default=F(field), output_field=TextField())

    # Blind copies are the staff's business only.
    return messages.filter(kind=Message.Kind.REPLY).annotate(
        # What an agent typed in the reply box, formatted, is theirs to show.
        shown_html=unless_by_staff("body_html", keep=Q(formatted=True)),
        shown_quoted=unless_by_staff("quoted"),
        shown_bcc=Value(""),
    )


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


# Merges are flattened (tickets.services.ticket_merge), so one hop is the
# rule; the cap only guards against a loop written by hand.
_MERGE_HOPS = 5


def ticket_survivor(ticket: Ticket) -> Ticket:
    """The ticket that took a merged one's place (the ticket itself when it
    was not merged), with its requester: where mail naming it belongs."""
    for _hop in range(_MERGE_HOPS):
        if ticket.merged_into_id is None:
            break
        ticket = Ticket.objects.select_related("created_by").get(pk=ticket.merged_into_id)
    return ticket


@dataclass(frozen=True)
class Related:
    """What a ticket's page names besides itself, as its viewer may see it."""

    merged_into: Ticket | None = None
    # The survivor's reference, shown even to a viewer who cannot open it.
    merged_into_reference: str = ""
    merged_from: list[Ticket] = field(default_factory=list)
    linked_to: Ticket | None = None
    linked_from: list[Ticket] = field(default_factory=list)


def ticket_related(*, ticket: Ticket, user: Any) -> Related:
    """The merge and link relations of ticket (the ones the gateway opens for
    a non-participant's reply, and splits): staff see them all, anyone else
    only where the ticket was merged to, linked if they may read it."""
    survivor = ticket_survivor(ticket) if ticket.merged_into_id is not None else None
    reference = survivor.reference if survivor is not None else ""
    visible = ticket_list(user=user)
    if survivor is not None and not visible.filter(pk=survivor.pk).exists():
        survivor = None
    if not access.is_staff(user):
        return Related(merged_into=survivor, merged_into_reference=reference)
    others = list(
        visible.filter(Q(merged_into=ticket) | Q(linked_to=ticket) | Q(pk=ticket.linked_to_id))
        .exclude(pk=ticket.pk)
        .order_by("created_at", "id")
    )
    return Related(
        merged_into=survivor,
        merged_into_reference=reference,
        merged_from=[t for t in others if t.merged_into_id == ticket.pk],
        linked_to=next((t for t in others if t.pk == ticket.linked_to_id), None),
        linked_from=[t for t in others if t.linked_to_id == ticket.pk],
    )

"""Every write to a ticket. Views, mail doors, commands and the API call these.

Each function runs in one transaction, locks the ticket row it changes,
writes a TicketEvent audit row for every field it changes and announces the
change (tickets.events) before the transaction commits, so that the outbox
rows subscribers write commit with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.db.models import FileField
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import access, assignment, closing, events, routing
from tickets.models import (
    Attachment,
    CannedReply,
    Category,
    MailId,
    Message,
    Source,
    Tag,
    Team,
    Ticket,
    TicketCC,
    TicketEvent,
)
from tickets.references import next_reference
from tickets.sla import (
    BREACH,
    WARNING,
    alert_due,
    alerts_pending,
    sla_first_response,
    sla_recompute,
    sla_transition,
)
from tickets.states import InvalidTransition, Priority, Status, check_transition


@dataclass(frozen=True)
class StoredFile:
    """Attachment content already written to storage (attachment_file_save)."""

    name: str  # the storage name, as Attachment.file holds it
    size: int
    sha256: str


@dataclass(frozen=True)
class NewAttachment:
    """A file to attach: bytes in memory, an open binary file to stream from,
    or a file saved beforehand (the mail gateway's worker processes do)."""

    name: str
    content_type: str
    content: bytes | IO[bytes] | StoredFile
    content_id: str = ""
    is_inline: bool = False


def _locked(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent changes queue."""
    fresh = Ticket.objects.select_for_update().get(pk=ticket.pk)
    # Keep the caller's object in step with what we are about to change.
    ticket.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return ticket


def _audit(
    ticket: Ticket,
    kind: str,
    actor: Any,
    old: str = "",
    new: str = "",
    message: Message | None = None,
    **extra: Any,
) -> None:
    record = TicketEvent(
        ticket=ticket,
        kind=kind,
        actor=actor if _is_user(actor) else None,
        old_value=old[:255],
        new_value=new[:255],
        created_at=timezone.now(),  # the change's time, also when saved later (held)
    )
    events.emit(
        events.TicketChanged(
            kind=kind, ticket=ticket, actor=actor, message=message, old=old, new=new, extra=extra
        ),
        record,
    )


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "pk", None) is not None


def _clean_subject(subject: str) -> str:
    # CR/LF in a subject would become header injection in every mail about it.
    cleaned = " ".join(subject.split())
    if not cleaned:
        raise ValidationError({"subject": "A subject is required."})
    return cleaned[:255]


def ticket_create(**fields: Any) -> Ticket:
    """Open a ticket for requester with its first message (see ticket_open)."""
    ticket, _message = ticket_open(**fields)
    return ticket


@transaction.atomic
def ticket_open(
    *,
    requester: Any,
    subject: str,
    body: str,
    source: str = Source.WEB,
    actor: Any = None,
    category: Category | None = None,
    priority: str = "",
    team: Team | None = None,
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    attachments: Sequence[NewAttachment] = (),
    ccs: Sequence[tuple[str, str]] = (),
    linked_to: Ticket | None = None,
    arrival: routing.Arrival | None = None,
) -> tuple[Ticket, Message]:
    """Open a ticket for requester; returns it and its first message. actor
    defaults to the requester.

    Without a team the routing rules choose one (arrival: how the ticket
    came; tickets.routing), and the team's assignment mode may hand it to an
    agent at once (tickets.assignment). A rule's priority applies when the
    caller gave none."""
    if priority and priority not in Priority.values:
        raise ValidationError({"priority": f"Unknown priority {priority!r}."})
    actor = requester if actor is None else actor
    with events.held():  # the ticket and its assignment reach subscribers together
        ticket, message = _open(
            requester=requester,
            subject=subject,
            body=body,
            source=source,
            actor=actor,
            category=category,
            priority=priority,
            team=team,
            message_id=message_id,
            body_html=body_html,
            quoted=quoted,
            attachments=attachments,
            ccs=ccs,
            linked_to=linked_to,
            arrival=arrival,
        )
        if ticket.team is not None and ticket.assigned_to_id is None:
            agent = assignment.pick(ticket.team)
            if agent is not None:
                ticket_assign(ticket=ticket, assignee=agent, actor=None)
    return ticket, message


def _open(
    *,
    requester: Any,
    subject: str,
    body: str,
    source: str,
    actor: Any,
    category: Category | None,
    priority: str,
    team: Team | None,
    message_id: str,
    body_html: str,
    quoted: str,
    attachments: Sequence[NewAttachment],
    ccs: Sequence[tuple[str, str]],
    linked_to: Ticket | None,
    arrival: routing.Arrival | None,
) -> tuple[Ticket, Message]:
    routed_by = ""
    if team is None:
        arrival = arrival or routing.Arrival(sender=requester.email)
        found = routing.route(
            dataclasses.replace(arrival, subject=subject, category=category or arrival.category)
        )
        team, category, routed_by = found.team, category or found.category, found.by
        priority = priority or found.priority
    ticket = Ticket.objects.create(
        reference=next_reference(timezone.now().year),
        subject=_clean_subject(subject),
        priority=priority or Priority.MEDIUM,
        category=category,
        team=team,
        routed_by=routed_by,
        created_by=requester,
        source=source,
        linked_to=linked_to,
    )
    if due := sla_recompute(ticket):
        ticket.save(update_fields=due)
    for email, name in ccs:
        ticket_cc_add(ticket=ticket, email=email, name=name)
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.REPLY,
        author=actor,
        source=source,
        message_id=message_id,
        body=body,
        body_html=body_html,
        quoted=quoted,
    )
    mail_id_record(ticket=ticket, message_id=message_id, message=message)
    for item in attachments:
        attachment_store(ticket=ticket, message=message, item=item)
    _audit(ticket, TicketEvent.Kind.CREATED, actor, new=ticket.reference, message=message)
    return ticket, message


@transaction.atomic
def ticket_reply_add(
    *,
    ticket: Ticket,
    author: Any,
    body: str,
    internal: bool = False,
    source: str = Source.WEB,
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    attachments: Sequence[NewAttachment] = (),
    is_quiet: bool = False,
    set_status: str | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    formatted: bool = False,
) -> Message:
    """Add a public reply or an internal note (internal=True, staff only).

    A customer's reply to a ticket waiting on them or resolved puts it back to
    open; a staff member's first public reply stamps first_response_at.
    set_status lets staff "reply and set status" in the same transaction.
    cc and bcc (staff public replies only): cc addresses join the ticket's CCs
    (they get this and later replies and may answer); bcc addresses get this
    mail only and never become participants. formatted: body_html was
    written in the reply box (helpdesk.markup), not taken from a mail.
    """
    with events.held():  # a reply and its status change reach subscribers together
        _locked(ticket)
        if ticket.merged_into_id is not None:
            raise ValidationError(_("This ticket was merged into another one; reply there."))
        staff = access.is_staff(author)
        if _is_user(author) and not staff and not is_participant(ticket, author.email):
            raise PermissionDenied("You cannot reply to this ticket.")
        if internal and not staff:
            raise PermissionDenied("Only staff can add internal notes.")
        if (cc or bcc) and (internal or not staff):
            raise ValidationError("Only a staff member's public reply can be copied.")
        requester = ticket.created_by.email if cc or bcc else ""
        for email in cc:
            if email.strip().lower() != requester:
                ticket_cc_add(ticket=ticket, email=email)
        # The ticket's CCs get every public reply staff write: recorded on it.
        copied = list(ticket.ccs.values_list("email", flat=True)) if staff and not internal else []
        blind = [
            e
            for e in dict.fromkeys(e.strip().lower() for e in bcc)
            if e and e != requester and e not in copied
        ]
        # A customer's bare "obrigado" to a resolved or closed ticket is kept
        # in the thread, quietly: it reopens nothing and pages nobody.
        thanks = (
            _is_user(author)
            and not staff
            and not internal
            and not attachments
            and ticket.status in {Status.RESOLVED, Status.CLOSED}
            and closing.is_bare_thanks(body)
        )
        is_quiet = is_quiet or thanks
        kind = Message.Kind.NOTE if internal else Message.Kind.REPLY
        message = Message.objects.create(
            ticket=ticket,
            kind=kind,
            author=author if _is_user(author) else None,
            source=source,
            message_id=message_id,
            body=body,
            body_html=body_html,
            quoted=quoted,
            is_quiet=is_quiet,
            cc=", ".join(copied),
            bcc=", ".join(blind),
            formatted=formatted and bool(body_html),
        )
        mail_id_record(ticket=ticket, message_id=message_id, message=message)
        for item in attachments:
            attachment_store(ticket=ticket, message=message, item=item)
        fields = ["first_response_at", "updated_at"]
        if staff and not internal and ticket.first_response_at is None:
            ticket.first_response_at = message.created_at
            fields += sla_first_response(ticket, message.created_at)
        ticket.save(update_fields=fields)
        _audit(
            ticket,
            TicketEvent.Kind.NOTE if internal else TicketEvent.Kind.REPLY,
            author,
            message=message,
            quiet=is_quiet,
            bcc=blind,
        )
        if set_status and set_status != ticket.status:
            ticket_transition(ticket=ticket, to=set_status, actor=author)
        elif (
            not staff
            and not is_quiet
            and ticket.status in {Status.WAITING_CUSTOMER, Status.RESOLVED}
        ):
            ticket_transition(ticket=ticket, to=Status.OPEN, actor=author)
        return message


@transaction.atomic
def ticket_transition(*, ticket: Ticket, to: str, actor: Any) -> Ticket:
    """Move the ticket to status `to`, if the table allows it (InvalidTransition if not)."""
    _locked(ticket)
    old = ticket.status
    check_transition(old, to)
    if ticket.merged_into_id is not None:  # it lives on in the survivor
        raise InvalidTransition(old, to)
    customer = _is_user(actor) and not access.is_staff(actor)
    if customer and (ticket.created_by_id != actor.pk or (old, to) not in access.CUSTOMER_MOVES):
        raise PermissionDenied("You cannot change this ticket's status.")
    now = timezone.now()
    ticket.status = to
    if to == Status.RESOLVED:
        ticket.resolved_at = now
    elif to == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif to in {Status.OPEN, Status.IN_PROGRESS}:
        ticket.resolved_at = None
        ticket.closed_at = None
    clock = sla_transition(ticket, old, to, now)  # the SLA clock stops or restarts
    ticket.save(update_fields=["status", "resolved_at", "closed_at", "updated_at", *clock])
    _audit(ticket, TicketEvent.Kind.STATUS, actor, old=old, new=to)
    return ticket


def _staff_change(ticket: Ticket, actor: Any) -> None:
    if _is_user(actor) and not access.is_staff(actor):
        raise PermissionDenied("Only staff can change this.")


@transaction.atomic
def ticket_priority_set(*, ticket: Ticket, priority: str, actor: Any) -> Ticket:
    if priority not in Priority.values:
        raise ValidationError({"priority": f"Unknown priority {priority!r}."})
    _staff_change(ticket, actor)
    _locked(ticket)
    old = ticket.priority
    if old != priority:
        ticket.priority = priority
        ticket.save(update_fields=["priority", "updated_at", *sla_recompute(ticket)])
        _audit(ticket, TicketEvent.Kind.PRIORITY, actor, old=old, new=priority)
    return ticket


@transaction.atomic
def ticket_category_set(*, ticket: Ticket, category: Category | None, actor: Any) -> Ticket:
    _staff_change(ticket, actor)
    _locked(ticket)
    old = ticket.category
    if old != category:
        ticket.category = category
        ticket.save(update_fields=["category", "updated_at", *sla_recompute(ticket)])
        _audit(
            ticket, TicketEvent.Kind.CATEGORY, actor, old=str(old or ""), new=str(category or "")
        )
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    assignee: Any,
    actor: Any,
    team: Team | None = None,
    keep_team: bool = True,
    reason: str = "",
) -> Ticket:
    """Assign to an agent (None to unassign), optionally transferring to a team too."""
    _staff_change(ticket, actor)
    if assignee is not None and not access.is_staff(assignee):
        raise ValidationError({"assigned_to": "Tickets can only be assigned to agents."})
    _locked(ticket)
    if not keep_team or team is not None:
        ticket_team_set(ticket=ticket, team=team, actor=actor)
    old = ticket.assigned_to
    if old != assignee:
        ticket.assigned_to = assignee
        ticket.save(update_fields=["assigned_to", "updated_at"])
        _audit(
            ticket,
            TicketEvent.Kind.ASSIGNEE,
            actor,
            old=old.email if old else "",
            new=assignee.email if assignee else "",
            reason=reason,
        )
    return ticket


@transaction.atomic
def ticket_team_set(*, ticket: Ticket, team: Team | None, actor: Any, reason: str = "") -> Ticket:
    _staff_change(ticket, actor)
    _locked(ticket)
    old = ticket.team
    if old != team:
        ticket.team = team
        ticket.save(update_fields=["team", "updated_at", *sla_recompute(ticket)])
        _audit(
            ticket,
            TicketEvent.Kind.TEAM,
            actor,
            old=str(old or ""),
            new=str(team or ""),
            reason=reason,
        )
    return ticket


@transaction.atomic
def ticket_transfer(
    *, ticket: Ticket, actor: Any, assignee: Any = None, team: Team | None = None, reason: str = ""
) -> Ticket:
    """Hand the ticket to another agent and/or team, saying why. The new owner
    hears of it with the reason; the reason also stays in the thread as a
    quiet internal note. A ticket moved to a team without a named agent
    leaves its old assignee (outside that team) and the team's assignment
    mode picks the next one."""
    _staff_change(ticket, actor)
    if assignee is None and team is None:
        raise ValidationError({"assigned_to": _("Choose an agent or a team.")})
    reason = " ".join(reason.split())[:500]
    with events.held():
        if team is not None and team != ticket.team:
            ticket_team_set(ticket=ticket, team=team, actor=actor, reason=reason)
            stays = (
                ticket.assigned_to_id is not None
                and team.members.filter(pk=ticket.assigned_to_id).exists()
            )
            if assignee is None and not stays:
                assignee = assignment.pick(team)  # None: it waits in the team's queue
                if assignee is None and ticket.assigned_to_id is not None:
                    ticket_assign(ticket=ticket, assignee=None, actor=actor)
        if assignee is not None:
            ticket_assign(ticket=ticket, assignee=assignee, actor=actor, reason=reason)
        if reason:
            ticket_reply_add(
                ticket=ticket,
                author=actor,
                body=_("Transfer: %(reason)s") % {"reason": reason},
                internal=True,
                source=Source.SYSTEM,
                is_quiet=True,
            )
    return ticket


@transaction.atomic
def ticket_sla_alert(*, ticket: Ticket, kind: str, target: str, now: datetime) -> bool:
    """Record on the ticket that target (sla.FIRST_RESPONSE or sla.RESOLUTION)
    is about to be breached (kind sla.WARNING) or was (sla.BREACH); subscribers
    warn the people handling it. Once per ticket, kind and target: False when
    recorded before or no longer true (answered, resolved, waiting, moved).
    Two sla_check runs at once queue on the ticket's row lock, and the second
    finds the first one's event."""
    _locked(ticket)
    due = alert_due(ticket, kind, target, now)
    if due is None or ticket.events.filter(kind=kind, new_value=target).exists():
        return False
    _audit(ticket, kind, None, old=due.isoformat(), new=target)
    return True


def mail_bounced(*, ticket: Ticket, recipient: str, reason: str) -> None:
    """A mail about the ticket came back: staff see it in the thread, and
    whoever handles the ticket gets an in-app notice, so a reply nobody
    received is not taken for one that was read. No mail goes out about it
    and the ticket does not move."""
    with transaction.atomic():
        _audit(ticket, TicketEvent.Kind.BOUNCED, None, old=recipient, new=reason)


def sla_check(*, now: datetime | None = None) -> dict[str, int]:
    """Record every SLA warning and breach due now (the sla_check command);
    how many of each."""
    now = now or timezone.now()
    counts = {WARNING: 0, BREACH: 0}
    for ticket, kind, target in alerts_pending(now):
        if ticket_sla_alert(ticket=ticket, kind=kind, target=target, now=now):
            counts[kind] += 1
    return counts


@transaction.atomic
def ticket_forward(
    *, ticket: Ticket, actor: Any, to: str, body: str = "", entry: Message | None = None
) -> Message:
    """Staff send one entry of the thread (or only a text) to an outside
    address, a supplier: recorded as an internal note naming the address (the
    audit row too); the mail goes out with a reply address that files the
    answer back here as an internal note (outbound.tokens.forward_address).
    The outside party becomes no participant: they see nothing else."""
    _staff_change(ticket, actor)
    if not access.is_staff(actor):
        raise PermissionDenied("Only staff can forward.")
    to = to.strip().lower()
    if not to:
        raise ValidationError({"to": "An address is required."})
    if entry is not None and entry.ticket_id != ticket.pk:
        raise ValidationError({"entry": "That entry is on another ticket."})
    if not body.strip() and entry is None:
        raise ValidationError({"body": "Write a text or choose an entry to forward."})
    _locked(ticket)
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.NOTE,
        author=actor,
        source=Source.WEB,
        body=body,
        forwarded_to=to,
        forward_of=entry,
    )
    ticket.save(update_fields=["updated_at"])
    _audit(ticket, TicketEvent.Kind.NOTE, actor, new=to, message=message, forwarded_to=to)
    return message


@transaction.atomic
def ticket_external_note_add(
    *,
    ticket: Ticket,
    from_email: str,
    body: str,
    message_id: str = "",
    body_html: str = "",
    quoted: str = "",
    attachments: Sequence[NewAttachment] = (),
    is_quiet: bool = False,
) -> Message:
    """An outside party's answer to a forward (the mail gateway proved it by
    the forward's token): an internal note with no author, from_email shown."""
    _locked(ticket)
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.NOTE,
        author=None,
        source=Source.EMAIL,
        message_id=message_id,
        body=body,
        body_html=body_html,
        quoted=quoted,
        is_quiet=is_quiet,
        external_from=from_email.strip().lower()[:254],
    )
    mail_id_record(ticket=ticket, message_id=message_id, message=message)
    for item in attachments:
        attachment_store(ticket=ticket, message=message, item=item)
    ticket.save(update_fields=["updated_at"])
    _audit(ticket, TicketEvent.Kind.NOTE, None, message=message, quiet=is_quiet)
    return message


@transaction.atomic
def ticket_event_add(*, ticket: Ticket, body: str, actor: Any = None) -> Message:
    """A quiet system entry in the thread (e.g. the result of an agent's mail
    commands); notifies nobody."""
    return Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.EVENT,
        author=actor if _is_user(actor) else None,
        source=Source.SYSTEM,
        body=body,
        is_quiet=True,
    )


@transaction.atomic
def message_move(*, message: Message, to_ticket: Ticket, actor: Any) -> Message:
    """Move a thread entry (a mail threaded to the wrong ticket) with its files
    and Message-IDs to another ticket; staff only, audited on both tickets."""
    _staff_change(message.ticket, actor)
    _staff_change(to_ticket, actor)
    source = message.ticket
    if source.pk == to_ticket.pk:
        return message
    # Lock in id order so two opposite moves cannot deadlock.
    for ticket in sorted((source, to_ticket), key=lambda t: t.pk):
        _locked(ticket)
    message.ticket = to_ticket
    message.save(update_fields=["ticket"])
    Attachment.objects.filter(message=message).update(ticket=to_ticket)
    MailId.objects.filter(entry=message).update(ticket=to_ticket)
    key = normalize_message_id(message.message_id)
    if key:
        MailId.objects.filter(message_id=key).update(ticket=to_ticket, entry=message)
    source.save(update_fields=["updated_at"])
    to_ticket.save(update_fields=["updated_at"])
    _audit(source, TicketEvent.Kind.MOVED, actor, old=source.reference, new=to_ticket.reference,
           message=message, direction="out")  # fmt: skip
    _audit(to_ticket, TicketEvent.Kind.MOVED, actor, old=source.reference,
           new=to_ticket.reference, message=message, direction="in")  # fmt: skip
    return message


@transaction.atomic
def message_split(*, message: Message, actor: Any) -> Ticket:
    """Open a new ticket, linked to the old one, from one thread entry; staff only."""
    _staff_change(message.ticket, actor)
    source = message.ticket
    author: Any = message.author
    requester: Any = (
        author if _is_user(author) and not access.is_staff(author) else source.created_by
    )
    ticket = Ticket.objects.create(
        reference=next_reference(timezone.now().year),
        subject=source.subject,
        priority=source.priority,
        category=source.category,
        team=source.team,
        created_by=requester,
        source=message.source or source.source,
        linked_to=source,
    )
    if due := sla_recompute(ticket):
        ticket.save(update_fields=due)
    _audit(ticket, TicketEvent.Kind.CREATED, actor, new=ticket.reference, message=message,
           split_from=source.reference)  # fmt: skip
    message_move(message=message, to_ticket=ticket, actor=actor)
    return ticket


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket, actor: Any) -> Ticket:
    """Merge the duplicate source into target, the survivor; staff only.

    The source's thread entries, files, Message-IDs and CCs move to the
    target (its thread reads in time order, so the two interleave); the
    source's requester becomes a CC of the target unless it is the same
    person. The source is closed, quietly, with merged_into set: mail
    naming its reference or Message-IDs threads to the target
    (mailgateway.threads), and its page points there. Tickets merged into
    the source before now point at the target too. Audited on both."""
    if not access.is_staff(actor):
        raise PermissionDenied("Only staff can merge tickets.")
    if source.pk == target.pk:
        raise ValidationError({"into": _("A ticket cannot be merged into itself.")})
    with events.held():
        # Lock in id order so two opposite merges cannot deadlock.
        for ticket in sorted((source, target), key=lambda t: t.pk):
            _locked(ticket)
        if source.merged_into_id is not None:
            raise ValidationError({"into": _("This ticket was merged already.")})
        if target.merged_into_id is not None:
            raise ValidationError({"into": _("That ticket was merged into another one.")})
        Message.objects.filter(ticket=source).update(ticket=target)
        Attachment.objects.filter(ticket=source).update(ticket=target)
        MailId.objects.filter(ticket=source).update(ticket=target)
        Ticket.objects.filter(merged_into=source).update(merged_into=target)
        requester = target.created_by.email
        copied = [(cc.email, cc.name) for cc in source.ccs.all()]
        if source.created_by_id != target.created_by_id:
            copied.insert(0, (source.created_by.email, source.created_by.get_full_name()))
        for email, name in copied:
            if email != requester:
                ticket_cc_add(ticket=target, email=email, name=name)
        now = timezone.now()
        old = source.status
        source.merged_into = target
        fields = ["merged_into", "updated_at"]
        if old != Status.CLOSED:
            source.status = Status.CLOSED
            source.closed_at = now
            source.resolved_at = source.resolved_at or now
            fields += ["status", "closed_at", "resolved_at"]
            fields += sla_transition(source, old, Status.CLOSED, now)
        source.save(update_fields=fields)
        target.save(update_fields=["updated_at"])
        if old != Status.CLOSED:
            # Nobody hears of this close: the merge is the news.
            _audit(source, TicketEvent.Kind.STATUS, actor, old=old, new=Status.CLOSED, quiet=True)
        _audit(source, TicketEvent.Kind.MERGED, actor, old=source.reference,
               new=target.reference, direction="out", quiet=True)  # fmt: skip
        _audit(target, TicketEvent.Kind.MERGED, actor, old=source.reference,
               new=target.reference, direction="in", source_id=source.pk, quiet=True)  # fmt: skip
    return target


TAG_MAX_LENGTH = 50


def _tag_name(name: str) -> str:
    cleaned = " ".join(name.split())[:TAG_MAX_LENGTH]
    if not cleaned:
        raise ValidationError({"tag": _("Give the tag a name.")})
    return cleaned


def tag_get_or_create(*, name: str) -> Tag:
    """The tag called name, whatever its case, created if new."""
    name = _tag_name(name)
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is not None:
        return tag
    try:
        with transaction.atomic():  # a savepoint: another request may create it first
            return Tag.objects.create(name=name)
    except IntegrityError:
        return Tag.objects.get(name__iexact=name)


@transaction.atomic
def ticket_tag_add(*, ticket: Ticket, name: str, actor: Any) -> Tag:
    """Put a tag on the ticket (created if new); staff only, audited, mailed
    to nobody."""
    _staff_change(ticket, actor)
    tag = tag_get_or_create(name=name)
    _locked(ticket)
    if not ticket.tags.filter(pk=tag.pk).exists():
        ticket.tags.add(tag)
        _audit(ticket, TicketEvent.Kind.TAGS, actor, new=tag.name, quiet=True)
    return tag


@transaction.atomic
def ticket_tag_remove(*, ticket: Ticket, name: str, actor: Any) -> None:
    """Take a tag off the ticket (the tag itself stays); staff only, audited."""
    _staff_change(ticket, actor)
    _locked(ticket)
    tag = ticket.tags.filter(name__iexact=" ".join(name.split())).first()
    if tag is not None:
        ticket.tags.remove(tag)
        _audit(ticket, TicketEvent.Kind.TAGS, actor, old=tag.name, quiet=True)


def normalize_message_id(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def mail_id_record(
    *, ticket: Ticket, message_id: str, message: Message | None = None, outbound: bool = False
) -> None:
    """Remember a Message-ID as belonging to ticket (first writer wins)."""
    mail_ids_add([(ticket, message, message_id)], outbound=outbound)


def mail_ids_add(
    entries: Sequence[tuple[Ticket, Message | None, str]], *, outbound: bool = False
) -> None:
    """Remember (ticket, entry, Message-ID) triples in one INSERT; a Message-ID
    already known keeps its ticket (first writer wins)."""
    rows: dict[str, MailId] = {}
    for ticket, message, message_id in entries:
        key = normalize_message_id(message_id)[:255]
        if key and key not in rows:
            rows[key] = MailId(message_id=key, ticket=ticket, entry=message, outbound=outbound)
    hold = events.current()
    if hold is not None:  # written with the held audit rows, one INSERT per batch
        for key, row in rows.items():
            hold.mail_ids.setdefault(key, row)
    elif rows:
        MailId.objects.bulk_create(list(rows.values()), ignore_conflicts=True)


def is_participant(ticket: Ticket, email: str) -> bool:
    """The requester or an address copied on the ticket."""
    email = email.strip().lower()
    return ticket.created_by.email == email or ticket.ccs.filter(email=email).exists()


def ticket_cc_add(*, ticket: Ticket, email: str, name: str = "") -> TicketCC:
    cc, _ = TicketCC.objects.get_or_create(
        ticket=ticket, email=email.strip().lower(), defaults={"name": name[:150]}
    )
    return cc


def attachment_file_save(content: bytes | IO[bytes]) -> StoredFile:
    """Write content under a server-chosen name; its size and SHA-256. The
    file is an orphan until an Attachment row names it (remove_orphans)."""
    digest = hashlib.sha256()
    if isinstance(content, bytes):
        digest.update(content)
        size = len(content)
        django_file: File[Any] = ContentFile(content)
    else:
        content.seek(0)
        size = 0
        for chunk in iter(lambda: content.read(1 << 16), b""):
            digest.update(chunk)
            size += len(chunk)
        content.seek(0)
        django_file = File(content)
    field = _file_field()
    name = field.storage.save(field.generate_filename(None, "upload"), django_file)
    return StoredFile(name=name, size=size, sha256=digest.hexdigest())


def attachment_files_discard(names: Sequence[str]) -> None:
    """Delete the saved files among names that no Attachment row holds (what a
    rolled-back or quarantined mail saved beforehand)."""
    held: set[str] = set()
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        held.update(Attachment.objects.filter(file__in=chunk).values_list("file", flat=True))
    for name in names:
        if name not in held:
            attachment_file_delete(name)


def attachment_file_delete(name: str) -> None:
    """Delete a saved file no row names (no database access: workers call it)."""
    _file_field().storage.delete(name)


def _file_field() -> FileField:
    field = Attachment._meta.get_field("file")
    assert isinstance(field, FileField)
    return field


def attachment_store(*, ticket: Ticket, message: Message | None, item: NewAttachment) -> Attachment:
    """Store one file under a server-chosen name, with its size and SHA-256."""
    stored = item.content
    if not isinstance(stored, StoredFile):
        stored = attachment_file_save(stored)
    attachment = Attachment(
        ticket=ticket,
        message=message,
        original_name=display_file_name(item.name),
        content_type=(item.content_type or "application/octet-stream")[:127],
        size=stored.size,
        sha256=stored.sha256,
        content_id=item.content_id[:255],
        is_inline=item.is_inline,
    )
    attachment.file.name = stored.name
    attachment.save()
    return attachment


def display_file_name(name: str) -> str:
    """A display name only: strip path parts, controls and bidi overrides;
    at most 255 characters with the extension kept (as Django cuts an
    upload's name: the B7 suite found a 10,000-character name by mail
    cut to 255 "x"s, its type lost)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        ch
        for ch in base
        if ch.isprintable() and ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ).strip(" .")
    if len(cleaned) > 255:
        stem, ext = os.path.splitext(cleaned)
        ext = ext[:20] if len(ext) > 1 else ""
        cleaned = stem[: 255 - len(ext)] + ext
    return cleaned or "attachment"


def canned_reply_save(
    *, owner: Any, name: str, body: str, language: str = "", team: Team | None = None
) -> CannedReply:
    """A canned reply of owner's (team: shared with that team instead; owner
    must belong to it)."""
    if not access.is_staff(owner):
        raise PermissionDenied("Only staff keep canned replies.")
    if team is not None and not team.members.filter(pk=owner.pk).exists():
        raise PermissionDenied("Only the team's members share replies with it.")
    return CannedReply.objects.create(
        owner=None if team is not None else owner,
        team=team,
        name=" ".join(name.split())[:100],
        body=body.strip(),
        language=language,
    )


def canned_reply_delete(*, canned: CannedReply, actor: Any) -> None:
    if canned.owner_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only its owner deletes a personal canned reply.")
    canned.delete()

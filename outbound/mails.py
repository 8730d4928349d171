"""From an outbox row to a ready EmailMessage: the context each template gets."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.urls import NoReverseMatch
from django.utils import translation
from django.utils.functional import lazy

from helpdesk.feedback import feedback_path
from outbound.conf import support_name
from outbound.emails import Mail, Recipient, make_message
from outbound.formatted import FORWARD, forward_context, inline_content_ids, mail_html
from tickets.models import Message, Ticket
from tickets.states import Priority, Status

log = logging.getLogger(__name__)


class MissingObject(LookupError):
    """The ticket a queued mail is about no longer exists."""


def absolute(path: str) -> str:
    return f"{settings.HELPDESK_BASE_URL}{path}"


def ticket_url(ticket: Ticket) -> str:
    try:
        path = ticket.get_absolute_url()
    except NoReverseMatch:
        path = f"/tickets/{ticket.reference}/"
    return absolute(path)


def _label(choices: Any, value: str) -> Any:
    try:
        return choices(value).label
    except ValueError:
        return value


def _name(user: Any) -> str:
    return str(user.get_full_name()) if user is not None else ""


def ticket_context(
    ticket: Ticket,
    *,
    message: Message | None = None,
    actor: Any = None,
    recipient_user: Any = None,
    old: str = "",
    new: str = "",
) -> dict[str, Any]:
    """Everything the email templates may use: plain values only, never a
    model object, so an edited template cannot reach into related rows (a
    user's password hash, another ticket). Labels are lazy, so they render in
    the language active while the template renders."""
    ctx: dict[str, Any] = {
        "site_name": _site_name(),
        "base_url": settings.HELPDESK_BASE_URL,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "ticket_url": ticket_url(ticket),
        "status_label": _label(Status, ticket.status),
        "priority_label": _label(Priority, ticket.priority),
        "old_status_label": _label(Status, old) if old in Status.values else old,
        "requester_name": _name(ticket.created_by),
        "assignee_name": _name(ticket.assigned_to),
        "team_name": str(ticket.team) if ticket.team_id else "",
        "category_name": str(ticket.category) if ticket.category_id else "",
        "actor_name": _name(actor) or _site_name(),
        "assigned_to_recipient": bool(
            recipient_user is not None and ticket.assigned_to_id == recipient_user.pk
        ),
        "old": old,
        "new": new,
        # SLA due times (sla_warning: new is the target, old its due time).
        "response_due_at": ticket.response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "body": message.body if message is not None else "",
        "signature": "",
        # An entry written in the reply box, formatted (its text is "body").
        "body_html": mail_html(message),
    }
    if message is not None and message.author is not None and message.author.is_staff:
        ctx["signature"] = message.author.signature.strip()
        ctx["actor_name"] = _name(message.author)
    elif message is not None and message.author is not None:
        ctx["actor_name"] = _name(message.author)
    elif message is not None and message.external_from:
        ctx["actor_name"] = message.external_from  # a supplier's answer to a forward
    if message is not None and message.forwarded_to:
        ctx.update(forward_context(message))
    if recipient_user is not None and ticket.created_by_id == recipient_user.pk:
        from helpdesk.models import SatisfactionRating

        # Who rated already is not asked again (a ticket closed twice).
        rated = SatisfactionRating.objects.filter(ticket=ticket).exists()
        for action in ("confirm", "reopen") if rated else ("confirm", "reopen", "rate"):
            ctx[f"{action}_url"] = absolute(
                feedback_path(ticket_id=ticket.pk, user_id=recipient_user.pk, action=action)
            )
    return ctx


# The helpdesk's name, lazy: the mail is rendered in its recipient's language.
_site_name = lazy(support_name, str)


def _from_name(queued: str) -> str:
    """The sender name of a queued mail in the active (the recipient's) language:
    it was written when the mail was queued, in whatever language was active
    then, so a default name ("Helpdesk", "Ana via Helpdesk") is put in this one."""
    here = support_name()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            there = support_name()
        if there == here:
            continue
        if queued == there:
            return here
        if queued.endswith(f" via {there}"):
            return queued.removesuffix(there) + here
    return queued


def build_email(payload: dict[str, Any], connection: Any = None) -> EmailMultiAlternatives:
    """The mail an outbox row describes, rendered now in the recipient's language."""
    if payload.get("account"):
        from helpdesk.account_mail import build

        return build(payload, connection)
    ticket = (
        Ticket.objects.select_related("created_by", "assigned_to", "team", "category")
        .filter(pk=payload["ticket_id"])
        .first()
    )
    if ticket is None:
        raise MissingObject("the ticket was deleted")
    users = get_user_model().objects
    user = users.filter(pk=payload["user_id"]).first() if payload.get("user_id") else None
    actor = users.filter(pk=payload["actor_id"]).first() if payload.get("actor_id") else None
    message = None
    if payload.get("message_pk"):
        message = Message.objects.select_related("author").filter(pk=payload["message_pk"]).first()
    ctx = ticket_context(
        ticket,
        message=message,
        actor=actor,
        recipient_user=user,
        old=payload.get("old", ""),
        new=payload.get("new", ""),
    )
    ctx["reply_is_internal"] = bool(payload.get("reply_internal"))
    ctx["reason"] = payload.get("reason", "")
    recipient = Recipient(
        email=payload["to"],
        name=payload.get("to_name", ""),
        language=(user.language if user is not None else payload.get("language", ""))
        or settings.LANGUAGE_CODE,
        user_id=payload.get("user_id"),
        is_staff=bool(payload.get("is_staff")),
    )
    with translation.override(recipient.language):
        from_name = _from_name(payload["from_name"])
    mail = make_message(
        payload["template"],
        recipient,
        ctx,
        from_name=from_name,
        from_email=payload["from_email"],
        reply_to=payload.get("reply_to", ""),
        headers=payload.get("headers", {}),
        connection=connection,
    )
    if message is not None and payload["template"] in WITH_ATTACHMENTS:
        attach_files(mail, message)
    elif message is not None and message.forward_of is not None and payload["template"] == FORWARD:
        attach_files(mail, message.forward_of, inline=False)
    return mail


# Replies carry their files, so people who work from their mail client have
# them; notices about other events point to the ticket instead.
WITH_ATTACHMENTS = frozenset({"agent_reply", "customer_reply", "new_ticket"})


def attach_files(mail: EmailMultiAlternatives, message: Message, *, inline: bool = True) -> None:
    """Attach the entry's files while they fit under HELPDESK_MAX_ATTACHMENT_MB
    in total; the rest stay on the ticket page the mail links to."""
    budget = int(getattr(settings, "HELPDESK_MAX_ATTACHMENT_MB", 20)) * 1024 * 1024
    shown = inline_content_ids(message) if inline and isinstance(mail, Mail) else set()
    for attachment in message.attachments.order_by("id"):
        if attachment.size > budget:
            continue
        try:
            with attachment.file.open("rb") as fh:
                content = fh.read()
        except OSError:
            log.warning("Attachment %s is missing from storage", attachment.pk)
            continue
        budget -= len(content)
        if attachment.content_id in shown and isinstance(mail, Mail):
            # Shown in the HTML where the agent pasted it, not as a file.
            mail.attach_related(
                content, attachment.content_type, attachment.content_id, attachment.original_name
            )
            continue
        mail.attach(attachment.original_name, content, attachment.content_type)

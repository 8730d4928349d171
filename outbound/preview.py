"""Render an admin's email template against a sample ticket, for the preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.template import TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from outbound.emails import Recipient, render_email
from outbound.mails import ticket_context
from outbound.models import EmailTemplate
from tickets.models import Message, Ticket
from tickets.states import Priority, Status


@dataclass(frozen=True)
class Preview:
    subject: str = ""
    text: str = ""
    html: str = ""
    error: str = ""


def _sample() -> tuple[Ticket, Message, Any]:
    """The newest real ticket, or an unsaved made-up one on a fresh install."""
    ticket = Ticket.objects.select_related("created_by", "assigned_to", "team").first()
    if ticket is not None:
        message = ticket.messages.filter(kind=Message.Kind.REPLY).last() or Message(
            ticket=ticket, body="…"
        )
        return ticket, message, ticket.created_by
    user_model = get_user_model()
    customer = user_model(pk=0, email="customer@example.com", full_name="Carla Cliente")
    agent = user_model(
        pk=0, email="agent@example.com", full_name="Ana Agente", signature=_("Ana\nSupport")
    )
    ticket = Ticket(
        pk=0,
        reference=f"HD-{timezone.now().year}-0001",
        subject=_("The printer does not print"),
        status=Status.RESOLVED,
        priority=Priority.HIGH,
        created_by=customer,
        assigned_to=agent,
    )
    message = Message(ticket=ticket, author=agent, body=_("Hello Carla,\n\nplease try again now."))
    return ticket, message, customer


def preview(template: EmailTemplate) -> Preview:
    with translation.override(template.language or None):
        ticket, message, customer = _sample()  # made-up text in the template's language
    ctx = ticket_context(
        ticket, message=message, actor=message.author, recipient_user=customer, old="open"
    )
    to = Recipient(email=customer.email, name=str(customer.get_full_name()))
    try:
        rendered = render_email(
            template.name, {**ctx, "recipient": to}, template.language, override=template
        )
    except (TemplateSyntaxError, LookupError, ValueError, TypeError, AttributeError) as exc:
        return Preview(error=f"{type(exc).__name__}: {exc}")
    return Preview(subject=rendered.subject, text=rendered.text, html=rendered.html)

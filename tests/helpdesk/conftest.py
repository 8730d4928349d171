"""Actors signed in as web clients, and a ticket with every kind of thread entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tickets import services
from tickets.models import Attachment, Message, Ticket
from tickets.services import NewAttachment


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    # Login-failure and reset-mail counters live in the cache.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def customer_client(customer: Any) -> Client:
    return client_for(customer)


@pytest.fixture
def other_client(other_customer: Any) -> Client:
    return client_for(other_customer)


@pytest.fixture
def agent_client(agent: Any) -> Client:
    return client_for(agent)


@pytest.fixture
def manager_client(manager: Any) -> Client:
    return client_for(manager)


def add_reply_and_note(ticket: Ticket, agent: Any) -> tuple[Message, Message]:
    """A public reply with a file, and an internal note with a file."""
    reply = services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="Public answer: please restart the printer.",
        attachments=[
            NewAttachment(name="manual.pdf", content_type="application/pdf", content=b"%PDF-1.4 x")
        ],
    )
    note = services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="SECRET-NOTE the customer broke it",
        internal=True,
        attachments=[
            NewAttachment(name="internal.txt", content_type="text/plain", content=b"internal only")
        ],
    )
    return reply, note


ATTACHED_MAIL = (
    b"From: a@example.com\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n"
    b"Content-Disposition: attachment; filename=f.txt\r\n\r\nf\r\n--b--\r\n"
)


def add_mail_with_image_and_eml(ticket: Ticket, author: Any) -> Message:
    """A mail with HTML (remote image), a pasted PNG and an attached mail:
    what the per-message frame, the inline view and the nested message show."""
    from tests.mail_images import png

    return services.ticket_reply_add(
        ticket=ticket,
        author=author,
        body="see",
        body_html='<p><img data-src="https://example.net/x.png"></p>',
        attachments=[
            NewAttachment(name="s.png", content_type="image/png", content=png()),
            NewAttachment(name="f.eml", content_type="message/rfc822", content=ATTACHED_MAIL),
        ],
    )


@pytest.fixture
def full_ticket(ticket: Ticket, agent: Any, customer: Any) -> Ticket:
    """The customer's ticket with a public reply with a file, and an internal note with a file."""
    add_reply_and_note(ticket, agent)
    return ticket


@pytest.fixture
def public_attachment(full_ticket: Ticket) -> Attachment:
    return Attachment.objects.get(ticket=full_ticket, original_name="manual.pdf")


@pytest.fixture
def note_attachment(full_ticket: Ticket) -> Attachment:
    return Attachment.objects.get(ticket=full_ticket, original_name="internal.txt")

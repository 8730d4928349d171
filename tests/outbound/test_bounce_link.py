"""A bounce of one of our mails is tied to the outbox row it returns, and the
ticket's staff see it in the thread (the catalogue's B12: "DSNs linked to the
outbound record")."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from helpdesk.models import Notification
from mailgateway.ingest import ingest_raw_email
from outbound.delivery import deliver_due
from outbound.models import BouncingAddress, OutboxItem
from tickets import services
from tickets.models import Ticket, TicketEvent

from .conftest import SMTPCapture

pytestmark = pytest.mark.django_db


def _dsn(message_id: str, recipient: str, *, status: str = "5.1.1") -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.cliente.example>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn.{status}.{recipient}@mx.cliente.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.cliente.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown

--b1
Content-Type: text/rfc822-headers

From: Support <support@example.com>
To: {recipient}
Subject: Re: [HD-2026-0001] Printer
Message-ID: <{message_id}>

--b1--
""".replace("\n", "\r\n").encode()


def _reply_mail(ticket: Ticket, agent: Any) -> OutboxItem:
    services.ticket_reply_add(ticket=ticket, author=agent, body="Please restart it.")
    return OutboxItem.objects.filter(
        kind=OutboxItem.Kind.EMAIL, ticket=ticket, recipient=ticket.created_by.email
    ).latest("pk")


def test_a_dsn_names_the_reply_it_returns_and_staff_see_it_in_the_thread(
    smtp_server: SMTPCapture, ticket: Ticket, agent: Any, customer: Any
) -> None:
    item = _reply_mail(ticket, agent)
    deliver_due()
    assert OutboxItem.objects.get(pk=item.pk).status == OutboxItem.Status.SENT

    result = ingest_raw_email(_dsn(item.message_id, customer.email), door="pipe")

    assert result.outcome == "bounce"
    item.refresh_from_db()
    assert item.last_error.startswith("bounced: 5.1.1")
    assert BouncingAddress.objects.filter(email=customer.email.lower()).exists()
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.BOUNCED)
    assert (event.old_value, event.actor) == (customer.email, None)
    agent_client = Client()
    agent_client.force_login(agent)
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    # The agent reads pt-BR (the default language).
    assert f"informou que o e-mail para {customer.email} foi devolvido: 5.1.1" in page
    owner = Client()
    owner.force_login(customer)
    assert "foi devolvido" not in owner.get(f"/tickets/{ticket.reference}/").content.decode()
    # Whoever handles the ticket gets an in-app notice; no mail goes out about
    # it, and the customer hears nothing.
    later = OutboxItem.objects.filter(created_at__gt=item.created_at).exclude(pk=item.pk)
    assert not later.exists()
    notices = Notification.objects.filter(kind=Notification.Kind.BOUNCED)
    assert [(n.recipient, n.ticket, n.detail) for n in notices] == [(agent, ticket, customer.email)]
    listed = agent_client.get("/notifications/").content.decode()
    assert f"Um e-mail foi devolvido</strong>: {customer.email}" in listed


def test_a_bounce_quoting_the_headers_in_its_text_is_linked_too(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    item = _reply_mail(ticket, agent)
    raw = (
        "From: postmaster@cliente.example\r\nTo: support@example.com\r\n"
        "Subject: Returned mail: see transcript for details\r\n"
        "Message-ID: <ret.1@cliente.example>\r\n\r\n"
        "The original message was received but could not be delivered.\r\n\r\n"
        "   ----- Original message headers -----\r\n"
        f"> Message-ID: <{item.message_id}>\r\n"
        f"> To: {customer.email}\r\n"
    ).encode()

    assert ingest_raw_email(raw, door="pipe").outcome == "bounce"
    [event] = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.BOUNCED)
    assert (event.old_value, event.new_value) == (customer.email, "")
    item.refresh_from_db()
    assert item.last_error == "bounced"
    # No reason given: the thread says so without an empty ": ".
    staff = Client()
    staff.force_login(agent)
    page = staff.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f"informou que o e-mail para {customer.email} foi devolvido<" in page


def test_a_bounce_of_another_recipient_or_of_mail_not_ours_links_nothing(
    ticket: Ticket, agent: Any
) -> None:
    item = _reply_mail(ticket, agent)
    # The DSN returns our reply, but reports a recipient it was not sent to.
    ingest_raw_email(_dsn(item.message_id, "someone.else@cliente.example"), door="pipe")
    # A DSN of a mail we never sent.
    ingest_raw_email(_dsn("not-ours@elsewhere.example", "x@cliente.example"), door="pipe")

    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.BOUNCED).exists()
    item.refresh_from_db()
    assert item.last_error == ""

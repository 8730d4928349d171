"""Forwarding to a third party (a supplier): what they get, and their answer
coming back as an internal note that makes them nothing on the ticket."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from helpdesk.models import User
from mailgateway.ingest import ingest_raw_email
from outbound.mails import build_email
from outbound.models import OutboxItem
from outbound.tokens import _b36, parse_reply_address, reply_address
from tests.helpdesk.conftest import client_for
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Message, Ticket, TicketCC, TicketEvent
from tickets.services import NewAttachment

SUPPLIER = "suporte@fornecedor.com"
SECRET = "nota-interna-7f3a: o cliente deve três faturas"


@pytest.fixture(autouse=True)
def _mail_settings(settings: Any) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []


@pytest.fixture
def forwarded(ticket: Ticket, agent: Any) -> Message:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    services.ticket_reply_add(ticket=ticket, author=agent, body=SECRET, internal=True)
    first = ticket.messages.order_by("id").first()
    assert first is not None
    services.attachment_store(
        ticket=ticket,
        message=first,
        item=NewAttachment(name="erro.txt", content_type="text/plain", content=b"E-42"),
    )
    response = client_for(agent).post(
        reverse("ticket_forward", args=[ticket.reference]),
        {
            "forward-to": SUPPLIER.upper(),
            "forward-entry": str(first.pk),
            "forward-body": "Podem verificar este erro da impressora?",
        },
    )
    assert response.status_code == 302
    return ticket.messages.get(forwarded_to=SUPPLIER)


def forward_mail(ticket: Ticket) -> tuple[OutboxItem, Any]:
    item = OutboxItem.objects.get(ticket=ticket, recipient=SUPPLIER)
    return item, build_email(item.payload)


def test_the_supplier_gets_the_entry_and_nothing_else(
    ticket: Ticket, agent: Any, forwarded: Message
) -> None:
    assert forwarded.kind == Message.Kind.NOTE and forwarded.author == agent
    assert forwarded.forward_of == ticket.messages.order_by("id").first()
    audit = TicketEvent.objects.get(ticket=ticket, kind="note", new_value=SUPPLIER)
    assert audit.actor == agent
    item, mail = forward_mail(ticket)
    assert item.event == "forward" and mail.to == [SUPPLIER]
    assert mail.subject == f"Fwd: [{ticket.reference}] {ticket.subject}"
    assert "Auto-Submitted" not in mail.extra_headers
    text, html = mail.body, mail.alternatives[0][0]
    for part in (text, html):
        assert "Podem verificar este erro da impressora?" in part
        assert "Desde ontem a impressora não funciona." in part
        assert SECRET not in part and "View the ticket online" not in part
        assert ticket.get_absolute_url() not in part
    assert [a[0] for a in mail.attachments] == ["erro.txt"]
    token = parse_reply_address(mail.reply_to[0])
    assert token is not None and token.entry_id == forwarded.pk and token.user_id == 0
    # Not a participant: later replies and notes never reach them.
    assert not TicketCC.objects.filter(email=SUPPLIER).exists()
    services.ticket_reply_add(ticket=ticket, author=agent, body="Aguardando o fornecedor.")
    services.ticket_reply_add(ticket=ticket, author=agent, body="outra nota", internal=True)
    assert OutboxItem.objects.filter(recipient=SUPPLIER).count() == 1


def test_the_supplier_answer_comes_back_as_an_internal_note(
    ticket: Ticket, agent: Any, customer: Any, forwarded: Message
) -> None:
    item, mail = forward_mail(ticket)
    raw = make_mail(
        sender=f"Fornecedor <{SUPPLIER}>",
        to=mail.reply_to[0],
        subject=f"Re: {mail.subject}",
        body="Troquem o fusor, peça 123.",
        headers={"In-Reply-To": f"<{item.message_id}>"},
    )
    result = ingest_raw_email(raw, door="pipe")
    assert (result.outcome, result.reference) == ("replied", ticket.reference)
    note = ticket.messages.get(body="Troquem o fusor, peça 123.")
    assert (note.kind, note.author, note.external_from) == (Message.Kind.NOTE, None, SUPPLIER)
    assert not User.objects.filter(email=SUPPLIER).exists()
    assert not TicketCC.objects.filter(email=SUPPLIER).exists()
    # The handler hears of it, as of any note; the customer and the supplier do not.
    notices = OutboxItem.objects.filter(ticket=ticket, payload__message_pk=note.pk)
    assert {(n.recipient, n.event) for n in notices} == {(agent.email, "note_added")}
    assert SUPPLIER in build_email(notices[0].payload).body
    staff_page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    customer_page = client_for(customer).get(ticket.get_absolute_url()).content.decode()
    assert "Troquem o fusor" in staff_page and SUPPLIER in staff_page
    assert "Troquem o fusor" not in customer_page and SUPPLIER not in customer_page


def test_only_the_token_files_the_supplier_answer(
    ticket: Ticket, agent: Any, forwarded: Message
) -> None:
    item, mail = forward_mail(ticket)
    # The subject tag and In-Reply-To alone: the supplier is no participant.
    raw = make_mail(
        sender=SUPPLIER,
        subject=f"Re: {mail.subject}",
        body="Sem token.",
        headers={"In-Reply-To": f"<{item.message_id}>"},
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != ticket.reference
    assert not ticket.messages.filter(body="Sem token.").exists()
    # A forged token (another entry, same signature) files nothing either.
    local, _, domain = mail.reply_to[0].partition("@")
    other = 1 if forwarded.pk != 1 else 2
    forged = local.replace(f"u{_b36(forwarded.pk)}k", f"u{_b36(other)}k") + "@" + domain
    assert forged != mail.reply_to[0]
    raw = make_mail(sender=SUPPLIER, to=forged, subject="Re: x", body="Forjado.")
    ingest_raw_email(raw, door="pipe")
    assert not ticket.messages.filter(body="Forjado.").exists()


def test_a_customer_cannot_use_a_person_token_as_a_forward(
    ticket: Ticket, customer: Any, forwarded: Message
) -> None:
    # A person's token never names a forward, and a forward's token never a person.
    token = parse_reply_address(reply_address(ticket.pk, customer.pk))
    assert token is not None and token.entry_id is None


def test_forwarding_is_for_staff_and_needs_something_to_send(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    url = reverse("ticket_forward", args=[ticket.reference])
    assert client_for(customer).post(url, {"forward-to": SUPPLIER}).status_code in {302, 403, 404}
    assert not ticket.messages.filter(forwarded_to=SUPPLIER).exists()
    response = client_for(agent).post(url, {"forward-to": SUPPLIER})
    assert response.status_code == 400
    response = client_for(agent).post(
        url, {"forward-to": "support@example.com", "forward-body": "x"}
    )
    assert response.status_code == 400
    assert not ticket.messages.filter(forwarded_to__gt="").exists()

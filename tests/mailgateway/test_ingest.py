from __future__ import annotations

from typing import Any

import pytest

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests.mailgateway.conftest import make_mail
from tickets.models import Message, Ticket, TicketCC

pytestmark = pytest.mark.django_db


def test_it_creates_a_ticket_with_a_customer_account() -> None:
    result = ingest_raw_email(make_mail(), door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.subject == "Impressora parada"
    assert ticket.source == "email"
    assert ticket.created_by.email == "carla@cliente.com.br"
    assert not ticket.created_by.has_usable_password()
    assert ticket.messages.get().body == "Olá, a impressora não funciona."
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.outcome == "created" and row.ticket == ticket and row.raw_path


def test_it_stores_the_exact_bytes(_raw_dir: Any) -> None:
    raw = make_mail()
    result = ingest_raw_email(raw, door="smtp")
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert (_raw_dir / row.raw_path).read_bytes() == raw


def test_it_makes_one_ticket_for_the_same_mail_twice_by_any_door() -> None:
    raw = make_mail()
    first = ingest_raw_email(raw, door="smtp")
    # The IMAP copy of the same mail carries another trace header.
    second = ingest_raw_email(b"Delivered-To: support@example.com\r\n" + raw, door="imap")
    assert first.outcome == "created"
    assert second.outcome == "duplicate" and second.reference == first.reference
    assert Ticket.objects.count() == 1 and Message.objects.count() == 1


def test_it_makes_one_ticket_for_a_mail_to_several_of_our_addresses(settings: Any) -> None:
    settings.HELPDESK_EXTRA_ADDRESSES = ["vendas@example.com"]
    raw = make_mail(to="support@example.com, vendas@example.com", cc="joao@cliente.com.br")
    result = ingest_raw_email(
        raw, door="smtp", envelope_rcpts=["support@example.com", "vendas@example.com"]
    )
    assert result.outcome == "created"
    assert Ticket.objects.count() == 1
    assert list(TicketCC.objects.values_list("email", flat=True)) == ["joao@cliente.com.br"]


def test_it_threads_a_reply_by_in_reply_to() -> None:
    first = ingest_raw_email(make_mail(message_id="<a1@cliente.com.br>"), door="pipe")
    reply = make_mail(
        subject="Re: Impressora parada",
        body="Ainda não funciona.\n\nEm seg., 3 de nov. de 2026 às 10:00, Suporte escreveu:\n> Olá",
        headers={"In-Reply-To": "<a1@cliente.com.br>", "References": "<a1@cliente.com.br>"},
    )
    result = ingest_raw_email(reply, door="pipe")
    assert result.outcome == "replied" and result.reference == first.reference
    message = Ticket.objects.get().messages.last()
    assert message is not None
    assert message.body == "Ainda não funciona."
    assert message.quoted.startswith("Em seg., 3 de nov.")


def test_the_same_mail_with_other_line_endings_and_trace_headers_is_a_duplicate() -> None:
    raw = make_mail().replace(b"\n", b"\r\n")
    first = ingest_raw_email(raw, door="smtp")
    relayed = (
        b"Return-Path: <carla@cliente.com.br>\nReceived: from mx by imap; today\n"
        + raw.replace(b"\r\n", b"\n")
    )
    second = ingest_raw_email(relayed, door="pipe")
    assert (first.outcome, second.outcome) == ("created", "duplicate")


def test_two_different_mails_reusing_one_message_id_are_both_kept() -> None:
    # Some scripts and appliances send every mail with the same Message-ID.
    first = ingest_raw_email(make_mail(body="Alarme 1", message_id="<fixed@nas>"), door="pipe")
    second = ingest_raw_email(make_mail(body="Alarme 2", message_id="<fixed@nas>"), door="pipe")
    assert first.outcome == "created"
    assert second.outcome in {"created", "replied"}
    assert Message.objects.count() == 2

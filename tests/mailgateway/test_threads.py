"""Threading keys, spoofing (A3), reopen window, staff by mail, move and split."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from helpdesk.accounts import customer_get_or_create
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from outbound.tokens import reply_address
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import MailId, Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

CARLA = "Carla Cliente <carla@cliente.com.br>"


@pytest.fixture
def carla_ticket(customer: Any) -> Ticket:
    ticket = services.ticket_create(
        requester=customer,
        subject="Impressora parada",
        body="Não imprime.",
        message_id="<t1@cliente.com.br>",
    )
    services.mail_id_record(ticket=ticket, message_id="<out1@example.com>", outbound=True)
    return ticket


def verdict(result: Any) -> dict[str, Any]:
    return dict(InboundMessage.objects.get(pk=result.inbound_id).verdict)


@pytest.mark.parametrize("prefix", ["Re:", "RE:", "Res:", "Enc:", "Fwd:", "AW:", "SV:", "Re: Fwd:"])
def test_it_threads_by_subject_tag_after_any_prefix(carla_ticket: Ticket, prefix: str) -> None:
    raw = make_mail(sender=CARLA, subject=f"{prefix} [{carla_ticket.reference}] Impressora")
    result = ingest_raw_email(raw, door="pipe")
    assert (result.outcome, result.reference) == ("replied", carla_ticket.reference)
    assert verdict(result)["rule"] == "subject"


def test_a_tag_without_brackets_threads_too(carla_ticket: Ticket) -> None:
    raw = make_mail(sender=CARLA, subject=f"Sobre o chamado {carla_ticket.reference.lower()}")
    assert ingest_raw_email(raw, door="pipe").reference == carla_ticket.reference


def test_it_threads_by_references_when_in_reply_to_is_unknown(carla_ticket: Ticket) -> None:
    raw = make_mail(
        sender=CARLA,
        subject="sem tag",
        headers={"In-Reply-To": "<nao-sei@x>", "References": "<out1@example.com> <nao-sei@x>"},
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference == carla_ticket.reference
    assert verdict(result)["rule"] == "message-id"


def test_a_reply_token_threads_even_with_a_new_subject(carla_ticket: Ticket, customer: Any) -> None:
    to = reply_address(carla_ticket.pk, customer.pk)
    result = ingest_raw_email(make_mail(sender=CARLA, to=to, subject="outra coisa"), door="pipe")
    assert result.reference == carla_ticket.reference
    assert verdict(result)["rule"] == "token"


def test_a_forged_token_is_ignored(carla_ticket: Ticket, customer: Any) -> None:
    to = reply_address(carla_ticket.pk, customer.pk)[:-8] + "aaaaaaa@example.com"
    result = ingest_raw_email(make_mail(sender=CARLA, to=to, subject="outra coisa"), door="pipe")
    assert result.outcome == "created" and result.reference != carla_ticket.reference


# A3: spoofed replies never attach.
def test_a_subject_tag_from_a_stranger_opens_a_new_linked_ticket(carla_ticket: Ticket) -> None:
    raw = make_mail(sender="mallory@evil.example", subject=f"Re: [{carla_ticket.reference}] x")
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "created" and result.reference != carla_ticket.reference
    new = Ticket.objects.get(reference=result.reference)
    assert new.linked_to == carla_ticket
    assert carla_ticket.messages.count() == 1
    rejected = verdict(result)["candidates"]
    assert rejected == [
        {
            "rule": "subject",
            "ticket": carla_ticket.reference,
            "reason": "sender is not a participant",
        }
    ]


def test_a_known_message_id_from_a_stranger_does_not_attach(carla_ticket: Ticket) -> None:
    raw = make_mail(sender="mallory@evil.example", headers={"In-Reply-To": "<out1@example.com>"})
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    assert carla_ticket.messages.count() == 1


def test_a_spoofed_requester_with_dmarc_fail_does_not_attach(
    carla_ticket: Ticket, settings: Any
) -> None:
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    raw = make_mail(
        sender=CARLA,
        subject=f"Re: [{carla_ticket.reference}] x",
        headers={"Authentication-Results": "mx.example.com; dmarc=fail header.from=cliente.com.br"},
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    assert verdict(result)["dmarc"] == "fail"


def test_a_stranger_with_the_requesters_reply_token_does_not_attach(
    carla_ticket: Ticket, customer: Any
) -> None:
    # A leaked or forwarded notification: the token is real, the sender not Carla.
    to = reply_address(carla_ticket.pk, customer.pk)
    raw = make_mail(sender="mallory@evil.example", to=to, subject=f"Re: [{carla_ticket.reference}]")
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    assert carla_ticket.messages.count() == 1


def test_a_spoofed_requester_with_dmarc_fail_and_our_message_id_does_not_attach(
    carla_ticket: Ticket, settings: Any
) -> None:
    # A forged In-Reply-To naming our own outbound mail, from Carla's address,
    # which our MTA found DMARC-failing.
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    raw = make_mail(
        sender=CARLA,
        subject="sem etiqueta",
        headers={
            "In-Reply-To": "<out1@example.com>",
            "Authentication-Results": "mx.example.com; dmarc=fail header.from=cliente.com.br",
        },
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    assert carla_ticket.messages.count() == 1


def test_a_token_for_one_ticket_does_not_open_another(carla_ticket: Ticket, customer: Any) -> None:
    # Mallory's own ticket's token, with Carla's ticket named in the subject.
    mallory = customer_get_or_create(email="mallory@evil.example", full_name="Mallory")
    own = services.ticket_create(requester=mallory, subject="meu", body="x")
    to = reply_address(own.pk, mallory.pk)
    raw = make_mail(sender="mallory@evil.example", to=to, subject=f"Re: [{carla_ticket.reference}]")
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference == own.reference
    assert carla_ticket.messages.count() == 1


def test_a_cc_participant_may_reply(carla_ticket: Ticket) -> None:
    services.ticket_cc_add(ticket=carla_ticket, email="joao@cliente.com.br")
    raw = make_mail(sender="joao@cliente.com.br", subject=f"Re: [{carla_ticket.reference}]")
    assert ingest_raw_email(raw, door="pipe").reference == carla_ticket.reference


def test_a_reply_to_a_recently_closed_ticket_reopens_it(carla_ticket: Ticket) -> None:
    services.ticket_transition(ticket=carla_ticket, to="closed", actor=None)
    raw = make_mail(sender=CARLA, headers={"In-Reply-To": "<out1@example.com>"})
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference == carla_ticket.reference
    carla_ticket.refresh_from_db()
    assert carla_ticket.status == "open"


def test_a_reply_to_a_long_closed_ticket_opens_a_linked_one(
    carla_ticket: Ticket, settings: Any
) -> None:
    services.ticket_transition(ticket=carla_ticket, to="closed", actor=None)
    Ticket.objects.filter(pk=carla_ticket.pk).update(
        closed_at=timezone.now() - timedelta(days=settings.HELPDESK_REOPEN_WINDOW_DAYS + 1)
    )
    raw = make_mail(sender=CARLA, headers={"In-Reply-To": "<out1@example.com>"})
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "created"
    assert Ticket.objects.get(reference=result.reference).linked_to == carla_ticket
    carla_ticket.refresh_from_db()
    assert carla_ticket.status == "closed"


def test_a_customer_reply_records_its_message_id_for_later_threading(carla_ticket: Ticket) -> None:
    raw = make_mail(sender=CARLA, message_id="<r2@cliente.com.br>",
                    headers={"In-Reply-To": "<out1@example.com>"})  # fmt: skip
    ingest_raw_email(raw, door="pipe")
    assert MailId.objects.get(message_id="r2@cliente.com.br").ticket == carla_ticket


# Staff by mail.
def test_an_agent_reply_with_their_token_is_a_public_reply(
    carla_ticket: Ticket, agent: Any
) -> None:
    to = reply_address(carla_ticket.pk, agent.pk)
    raw = make_mail(sender=agent.email, to=to, subject="Re: x", body="Já trocamos o toner.")
    result = ingest_raw_email(raw, door="imap")
    assert result.outcome == "replied"
    reply = carla_ticket.messages.order_by("id").last()
    assert reply is not None
    assert (reply.kind, reply.author, reply.body, reply.source) == (
        "reply",
        agent,
        "Já trocamos o toner.",
        "email",
    )
    assert verdict(result)["staff"] is True


def test_an_agent_note_and_commands_act_and_are_confirmed(carla_ticket: Ticket, agent: Any) -> None:
    to = reply_address(carla_ticket.pk, agent.pk)
    body = "#note\n#status waiting\n#priority high\n#assign me\n\nLiguei para a cliente."
    result = ingest_raw_email(make_mail(sender=agent.email, to=to, body=body), door="pipe")
    assert result.outcome == "replied"
    carla_ticket.refresh_from_db()
    assert (carla_ticket.status, carla_ticket.priority, carla_ticket.assigned_to) == (
        "waiting_customer",
        "high",
        agent,
    )
    note = carla_ticket.messages.get(kind=Message.Kind.NOTE)
    assert note.body == "Liguei para a cliente."
    event = carla_ticket.messages.get(kind=Message.Kind.EVENT)
    # In the agent's language (pt-BR), attributed to them, with labels and names.
    assert event.is_quiet and event.author == agent
    assert "Aguardando cliente" in event.body and "Ana Agente" in event.body
    assert TicketEvent.objects.filter(ticket=carla_ticket, kind="priority").exists()


def test_an_agent_with_dmarc_pass_is_trusted(
    carla_ticket: Ticket, agent: Any, settings: Any
) -> None:
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    raw = make_mail(
        sender=agent.email,
        subject=f"Re: [{carla_ticket.reference}]",
        body="#status resolved\nResolvido.",
        headers={
            "Authentication-Results": (
                "mx.example.com; spf=pass; dmarc=pass header.from=support.example"
            )
        },
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference == carla_ticket.reference
    carla_ticket.refresh_from_db()
    assert carla_ticket.status == "resolved"
    assert verdict(result)["authenticated_by"] == "dmarc"


@pytest.mark.parametrize(
    "results",
    [
        [],  # no header at all
        ["other-mx.example.org; dmarc=pass header.from=support.example"],  # not our MTA
        # Ours further down: the sender wrote it (RFC 8601 §5), the top one is not ours.
        ["relay.example.net; none", "mx.example.com; dmarc=pass header.from=support.example"],
    ],
)
def test_a_mail_merely_claiming_to_be_an_agent_is_never_staff(
    carla_ticket: Ticket, agent: Any, settings: Any, results: list[str]
) -> None:
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    raw = make_mail(sender=agent.email, subject=f"Re: [{carla_ticket.reference}]",
                    body="#status closed\nFechado.")  # fmt: skip
    for value in reversed(results):  # prepend, so results[0] ends up topmost
        raw = f"Authentication-Results: {value}\r\n".encode() + raw
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    carla_ticket.refresh_from_db()
    assert carla_ticket.status == "open" and carla_ticket.messages.count() == 1


def test_an_agents_token_used_by_someone_else_does_not_make_them_staff(
    carla_ticket: Ticket, agent: Any
) -> None:
    to = reply_address(carla_ticket.pk, agent.pk)
    raw = make_mail(sender="mallory@evil.example", to=to, body="#status closed\nx")
    result = ingest_raw_email(raw, door="pipe")
    assert result.reference != carla_ticket.reference
    carla_ticket.refresh_from_db()
    assert carla_ticket.status == "open"


# Move and split.
def test_staff_can_move_a_misthreaded_mail_and_its_message_id(
    carla_ticket: Ticket, other_customer: Any, agent: Any
) -> None:
    other = services.ticket_create(requester=other_customer, subject="Outro", body="x")
    raw = make_mail(sender=CARLA, message_id="<wrong@cliente.com.br>",
                    headers={"In-Reply-To": "<out1@example.com>"})  # fmt: skip
    row = InboundMessage.objects.get(pk=ingest_raw_email(raw, door="pipe").inbound_id)
    assert row.entry is not None
    services.message_move(message=row.entry, to_ticket=other, actor=agent)
    assert MailId.objects.get(message_id="wrong@cliente.com.br").ticket == other
    row.refresh_from_db()
    assert row.ticket == other
    assert TicketEvent.objects.filter(kind="moved").count() == 2
    # The next reply in that sub-thread now lands on the right ticket.
    follow = make_mail(
        sender="otto@outra.com.br", headers={"In-Reply-To": "<wrong@cliente.com.br>"}
    )
    assert ingest_raw_email(follow, door="pipe").reference == other.reference


def test_staff_can_split_a_mail_into_a_new_linked_ticket(carla_ticket: Ticket, agent: Any) -> None:
    raw = make_mail(
        sender=CARLA, body="Outro assunto", headers={"In-Reply-To": "<out1@example.com>"}
    )
    row = InboundMessage.objects.get(pk=ingest_raw_email(raw, door="pipe").inbound_id)
    assert row.entry is not None
    new = services.message_split(message=row.entry, actor=agent)
    assert new.linked_to == carla_ticket and new.created_by == carla_ticket.created_by
    assert list(new.messages.values_list("body", flat=True)) == ["Outro assunto"]


def test_a_customer_cannot_move_messages(carla_ticket: Ticket, customer: Any) -> None:
    from django.core.exceptions import PermissionDenied

    other = services.ticket_create(requester=customer, subject="Outro", body="x")
    with pytest.raises(PermissionDenied):
        services.message_move(message=carla_ticket.messages.get(), to_ticket=other, actor=customer)


def test_unknown_senders_can_be_restricted_to_allowed_domains(settings: Any) -> None:
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["cliente.com.br"]
    assert ingest_raw_email(make_mail(sender=CARLA), door="pipe").outcome == "created"
    result = ingest_raw_email(make_mail(sender="x@outsider.org"), door="pipe")
    assert result.outcome == "quarantined"
    assert "sender domain not allowed" in InboundMessage.objects.get(pk=result.inbound_id).error
    customer_get_or_create(email="known@outsider.org")  # an existing account may always write
    assert (
        ingest_raw_email(make_mail(sender="known@outsider.org"), door="pipe").outcome == "created"
    )


def test_a_reference_with_undecodable_bytes_is_ignored_not_a_quarantine(db: Any) -> None:
    # Found by tests/fuzz: a surrogate-escaped id reached the database query.
    raw = (
        b"From: Carla <carla@cliente.com.br>\r\nTo: support@example.com\r\n"
        b"Subject: Pedido\r\nMessage-ID: <fuzz-1@cliente.com.br>\r\n"
        b"References: <ok@x> <bro\xddken@x>\r\n\r\nOla\r\n"
    )
    assert ingest_raw_email(raw, door="pipe").outcome == "created"

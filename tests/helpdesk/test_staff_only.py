"""What is for staff stays with staff (issue 10's four privacy defects), from
the mail an agent answers to the page and the mail the customer gets."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

import pytest
from django.core import mail as django_mail
from django.test import Client

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from mailgateway.ingest import Vouch, ingest_raw_email, reprocess
from mailgateway.models import InboundMessage
from outbound.mails import build_email
from outbound.models import OutboxItem
from outbound.tokens import parse_reply_address, reply_address
from tests.conftest import PASSWORD
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Message, Ticket

SECRET = "o cliente é VIP, não comentar com ele sobre o erro do financeiro"


@pytest.fixture(autouse=True)
def _mail_settings(settings: Any, tmp_path: Any) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []


@pytest.fixture
def marcia(team: Any) -> Any:
    user = user_create(
        email="marcia@support.example",
        full_name="Márcia Mendes",
        role=Role.AGENT,
        password=PASSWORD,
    )
    team.members.add(user)
    return user


@pytest.fixture
def vip_ticket(ticket: Ticket) -> Ticket:
    services.ticket_cc_add(ticket=ticket, email="chefe@cliente.com.br", name="Chefe")
    return ticket


def notice_for(user: Any, event: str, ticket: Ticket) -> Any:
    item = OutboxItem.objects.filter(recipient=user.email, event=event, ticket=ticket).latest("id")
    return item, build_email(item.payload)


def customer_items(ticket: Ticket) -> list[OutboxItem]:
    return list(
        OutboxItem.objects.filter(
            ticket=ticket, recipient__in=[ticket.created_by.email, "chefe@cliente.com.br"]
        )
    )


def answer(notice: Any, item: OutboxItem, *, sender: str, body: str, to: str = "") -> bytes:
    return make_mail(
        sender=sender,
        to=to or notice.reply_to[0],
        subject=f"Re: {notice.subject}",
        body=body,
        headers={"In-Reply-To": f"<{item.message_id}>", "References": f"<{item.message_id}>"},
        message_id=make_msgid(domain="support.example"),
    )


def page(user: Any, ticket: Ticket, path: str = "") -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/tickets/{ticket.reference}/{path}")
    assert response.status_code == 200
    return response.content.decode()


# 1. A reply by mail to an internal-note notice stays internal.


def test_a_reply_to_an_internal_note_notice_is_an_internal_note(
    vip_ticket: Ticket, agent: Any, marcia: Any
) -> None:
    services.ticket_reply_add(ticket=vip_ticket, author=agent, body=SECRET, internal=True)
    item, notice = notice_for(marcia, "note_added", vip_ticket)
    token = parse_reply_address(notice.reply_to[0])
    assert token is not None and token.internal and token.user_id == marcia.pk
    # The footer says what a reply does, in Márcia's language and in the HTML part.
    assert "será adicionada como nota interna" in notice.body
    assert "#public" in notice.alternatives[0][0]
    before = len(customer_items(vip_ticket))

    reply = answer(notice, item, sender=marcia.email, body="Combinado, não comento.")
    result = ingest_raw_email(reply, door="pipe")

    assert result.outcome == "replied"
    entry = vip_ticket.messages.latest("id")
    assert entry.kind == Message.Kind.NOTE and entry.author == marcia
    assert len(customer_items(vip_ticket)) == before  # neither the customer nor the CC hears
    assert "Combinado" not in page(vip_ticket.created_by, vip_ticket)


def test_public_on_the_first_line_answers_the_customer(
    vip_ticket: Ticket, agent: Any, marcia: Any
) -> None:
    services.ticket_reply_add(ticket=vip_ticket, author=agent, body=SECRET, internal=True)
    item, notice = notice_for(marcia, "note_added", vip_ticket)
    reply = answer(notice, item, sender=marcia.email, body="#public\n\nJá estamos resolvendo.")
    ingest_raw_email(reply, door="pipe")

    entry = vip_ticket.messages.latest("id")
    assert entry.kind == Message.Kind.REPLY and entry.body == "Já estamos resolvendo."
    sent = {i.recipient for i in customer_items(vip_ticket) if i.event == "agent_reply"}
    assert sent == {vip_ticket.created_by.email, "chefe@cliente.com.br"}
    mail = build_email(
        OutboxItem.objects.filter(recipient=vip_ticket.created_by.email).latest("id").payload
    )
    assert "#public" not in mail.body and SECRET not in mail.body


def test_an_agent_proved_by_dmarc_answering_a_note_notice_writes_a_note(
    vip_ticket: Ticket, agent: Any, marcia: Any
) -> None:
    """Their client answered the plain support address: In-Reply-To names the notice."""
    services.ticket_reply_add(ticket=vip_ticket, author=agent, body=SECRET, internal=True)
    item, notice = notice_for(marcia, "note_added", vip_ticket)
    reply = b"Authentication-Results: mx.example.com; dmarc=pass header.from=support.example\r\n"
    reply += answer(notice, item, sender=marcia.email, body="Ok.", to="support@example.com")
    ingest_raw_email(reply, door="pipe")
    assert vip_ticket.messages.latest("id").kind == Message.Kind.NOTE


def test_a_reply_to_the_customers_message_stays_public(
    vip_ticket: Ticket, agent: Any, customer: Any
) -> None:
    services.ticket_reply_add(ticket=vip_ticket, author=customer, body="Ainda não funciona.")
    item, notice = notice_for(agent, "customer_reply", vip_ticket)
    assert not parse_reply_address(notice.reply_to[0]).internal  # type: ignore[union-attr]
    assert "nota interna" not in notice.body
    ingest_raw_email(answer(notice, item, sender=agent.email, body="Reinicie."), door="pipe")
    assert vip_ticket.messages.latest("id").kind == Message.Kind.REPLY


def test_assignment_and_urgent_notices_are_staff_only_too(vip_ticket: Ticket, agent: Any) -> None:
    boss = user_create(email="mario@support.example", full_name="Mário", role=Role.MANAGER)
    services.ticket_assign(ticket=vip_ticket, assignee=agent, actor=boss)
    services.ticket_priority_set(ticket=vip_ticket, priority="urgent", actor=boss)
    for event in ("assigned", "urgent"):
        _item, notice = notice_for(agent, event, vip_ticket)
        assert parse_reply_address(notice.reply_to[0]).internal, event  # type: ignore[union-attr]


# 2. The quoted history of an agent's mail is for staff only.

QUOTED_REPLY = f"""Pode reiniciar a impressora, por favor?

Em qua., 2 de dez. de 2026 às 10:00, Helpdesk <support@example.com> escreveu:
> Ana Agente adicionou uma nota interna:
> {SECRET}
"""


def test_customers_never_see_the_quoted_history_of_an_agents_mail(
    vip_ticket: Ticket, agent: Any, customer: Any
) -> None:
    raw = make_mail(
        sender=agent.email,
        to=reply_address(vip_ticket.pk, agent.pk),
        subject=f"Re: [{vip_ticket.reference}] {vip_ticket.subject}",
        body=QUOTED_REPLY,
    )
    ingest_raw_email(raw, door="pipe")
    entry = vip_ticket.messages.latest("id")
    assert entry.kind == Message.Kind.REPLY and SECRET in entry.quoted

    for path in ("", "thread/"):
        assert SECRET not in page(customer, vip_ticket, path)
        assert "Pode reiniciar a impressora" in page(customer, vip_ticket, path)
        assert SECRET in page(agent, vip_ticket, path)
    for item in customer_items(vip_ticket):
        built = build_email(item.payload)
        assert SECRET not in built.body and SECRET not in built.alternatives[0][0]


def test_the_html_of_an_agents_mail_is_not_shown_to_customers(
    vip_ticket: Ticket, agent: Any, customer: Any
) -> None:
    services.ticket_reply_add(
        ticket=vip_ticket,
        author=agent,
        body="Pode reiniciar?",
        body_html=f"<p>Pode reiniciar?</p><blockquote>{SECRET}</blockquote>",
        quoted=SECRET,
    )
    assert SECRET not in page(customer, vip_ticket)
    assert "Pode reiniciar?" in page(customer, vip_ticket)
    assert SECRET in page(agent, vip_ticket)


# 3. Mail-command results are internal events, translated; the commands never reach the customer.


def test_mail_commands_leave_no_trace_for_the_customer(
    vip_ticket: Ticket, agent: Any, customer: Any
) -> None:
    body = "#assign me\n#priority high\n#status resolved\n\nTrocamos o toner, deve funcionar."
    raw = make_mail(
        sender=agent.email,
        to=reply_address(vip_ticket.pk, agent.pk),
        subject=f"Re: [{vip_ticket.reference}] {vip_ticket.subject}",
        body=body,
    )
    ingest_raw_email(raw, door="pipe")
    vip_ticket.refresh_from_db()
    assert (vip_ticket.assigned_to, vip_ticket.priority, vip_ticket.status) == (
        agent,
        "high",
        "resolved",
    )
    event = vip_ticket.messages.get(kind=Message.Kind.EVENT)
    assert event.author == agent and "Resolvido" in event.body and "Alta" in event.body

    html = page(customer, vip_ticket)
    for leak in ("#assign", "#priority", agent.email, event.body.splitlines()[0]):
        assert leak not in html, leak
    assert "Trocamos o toner" in html
    assert event.body.splitlines()[0] in page(agent, vip_ticket)
    # One mail to the requester: the reply, carrying the resolution question.
    mails = [i for i in customer_items(vip_ticket) if i.recipient == customer.email]
    assert [i.event for i in mails if i.event != "ticket_created"] == ["agent_reply"]
    built = build_email(next(i for i in mails if i.event == "agent_reply").payload)
    for part in (built.body, built.alternatives[0][0]):
        assert "#assign" not in part and "#status" not in part and agent.email not in part
        assert "Trocamos o toner" in part


# 4. Mail from a staff address that proves nothing is held, not a customer ticket.


def unverified(agent: Any, subject: str = "Pedido de acesso") -> bytes:
    return make_mail(sender=agent.email, subject=subject, body="Preciso de acesso ao ERP.")


def test_unverified_staff_mail_is_held_and_explained_once_a_day(
    db: Any, agent: Any, marcia: Any
) -> None:
    first = ingest_raw_email(unverified(agent), door="pipe")
    second = ingest_raw_email(unverified(agent, "Outro pedido"), door="pipe")

    assert (first.outcome, second.outcome) == ("quarantined", "quarantined")
    assert not Ticket.objects.exists()
    row = InboundMessage.objects.get(pk=first.inbound_id)
    assert row.verdict["held"] == "unverified_staff" and "unverified staff mail" in row.error
    # No "we received your request", no notice to the staff: one explanation, to the agent.
    explanations = OutboxItem.objects.filter(event="unverified-staff")
    assert [i.recipient for i in explanations] == [agent.email]
    assert OutboxItem.objects.count() == 1
    built = build_email(explanations[0].payload)
    assert "Pedido de acesso" in built.body and "reply to the notices" not in built.body
    assert "responda aos avisos" in built.body  # pt-BR, the agent's language


def test_an_admin_releases_or_attaches_held_staff_mail(
    vip_ticket: Ticket, agent: Any, admin_user: Any
) -> None:
    held = ingest_raw_email(unverified(agent), door="pipe")
    row = InboundMessage.objects.get(pk=held.inbound_id)
    result = reprocess(row, vouch=Vouch(by=admin_user, ticket=vip_ticket))
    assert (result.outcome, result.reference) == ("replied", vip_ticket.reference)
    note = vip_ticket.messages.latest("id")
    assert note.kind == Message.Kind.NOTE and note.author == agent
    row.refresh_from_db()
    assert row.verdict["vouched_by"] == admin_user.email

    reply = make_mail(
        sender=agent.email, subject=f"Re: [{vip_ticket.reference}]", body="Resolvido por telefone."
    )
    row = InboundMessage.objects.get(pk=ingest_raw_email(reply, door="pipe").inbound_id)
    assert row.outcome == "quarantined"
    result = reprocess(row, vouch=Vouch(by=admin_user))
    assert result.reference == vip_ticket.reference
    assert vip_ticket.messages.latest("id").kind == Message.Kind.REPLY


def test_the_admin_lists_held_staff_mail_with_its_actions(
    db: Any, agent: Any, admin_user: Any
) -> None:
    ingest_raw_email(unverified(agent), door="pipe")
    client = Client()
    client.force_login(admin_user)
    response = client.get("/admin/mailgateway/inboundmessage/?held=unverified_staff")
    html = response.content.decode()
    assert response.status_code == 200 and "Pedido de acesso" in html
    assert "release_selected" in html and "attach_to_ticket" in html
    assert django_mail.outbox == []  # nothing sent inline

"""Who hears what, in which language, with which links and headers — checked
on mails a real SMTP server (aiosmtpd) received."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from django.test import override_settings

from helpdesk.accounts import user_create
from helpdesk.feedback import parse_feedback_token
from helpdesk.roles import Role
from outbound.delivery import deliver_due
from outbound.models import (
    BouncingAddress,
    Notification,
    NotificationOptOut,
    NotificationSetting,
    OutboxItem,
)
from outbound.tokens import ReplyToken, parse_reply_address
from tickets import services
from tickets.models import MailId
from tickets.states import Priority, Status

from .conftest import PASSWORD, SMTPCapture


def send_all() -> None:
    deliver_due()


def by_rcpt(server: SMTPCapture) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for _sender, rcpts, msg, _raw in server.messages:
        for rcpt in rcpts:
            out.setdefault(rcpt, []).append(msg)
    return out


def text(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def html(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_it_confirms_to_the_customer_and_tells_the_team(
    smtp_server: SMTPCapture, customer: Any, agent: Any, english_agent: Any, category: Any
) -> None:
    away = user_create(
        email="zeca@support.example", full_name="Zeca", role=Role.AGENT, password=PASSWORD
    )
    away.is_available = False
    away.save()
    category.default_team.members.add(away)

    ticket = services.ticket_create(
        requester=customer, subject="Impressora parou", body="Não imprime nada.", category=category
    )
    send_all()
    mails = by_rcpt(smtp_server)
    assert set(mails) == {customer.email, agent.email, english_agent.email}

    [confirmation] = mails[customer.email]
    assert confirmation["Subject"] == f"[{ticket.reference}] Impressora parou"
    assert "Recebemos sua solicitação" in text(confirmation)  # pt-BR customer
    assert "Recebemos sua solicitação" in html(confirmation)
    assert confirmation["Auto-Submitted"] == "auto-generated"  # (auto-replied for a mail)
    assert confirmation["X-Auto-Response-Suppress"] == "All"
    assert parseaddr(confirmation["From"]) == ("Central de atendimento", "support@example.com")
    assert parse_reply_address(confirmation["Reply-To"]) == ReplyToken(ticket.pk, customer.pk)
    assert f"http://127.0.0.1:8000/tickets/{ticket.reference}/" in text(confirmation)
    assert f'href="http://127.0.0.1:8000/tickets/{ticket.reference}/"' in html(confirmation)

    [notice] = mails[english_agent.email]
    assert notice["Subject"] == f"[{ticket.reference}] Impressora parou"
    assert f"New ticket {ticket.reference} from Carla Cliente" in text(notice)
    assert "Não imprime nada." in text(notice)
    assert notice["Auto-Submitted"] == "auto-generated"
    assert parse_reply_address(notice["Reply-To"]) == ReplyToken(ticket.pk, english_agent.pk)
    assert "Novo ticket" in text(mails[agent.email][0])  # Ana reads Portuguese

    # Every outgoing Message-ID is in the thread map, so replies come back.
    for msg in smtp_server.mails():
        assert MailId.objects.get(message_id=msg["Message-ID"].strip("<>")).outbound
        assert msg["Message-ID"].endswith("@example.com>")


def test_an_agent_reply_goes_to_requester_and_ccs_as_the_agent_via_support(
    smtp_server: SMTPCapture, ticket: Any, english_agent: Any, customer: Any
) -> None:
    services.ticket_cc_add(ticket=ticket, email="chefe@cliente.com.br", name="Chefe")
    smtp_server.messages.clear()
    OutboxItem.objects.all().delete()
    services.ticket_reply_add(ticket=ticket, author=english_agent, body="Please restart it.")
    send_all()
    mails = by_rcpt(smtp_server)
    assert set(mails) == {customer.email, "chefe@cliente.com.br"}
    [reply] = mails[customer.email]
    assert reply["Subject"] == f"Re: [{ticket.reference}] {ticket.subject}"
    assert parseaddr(reply["From"]) == (
        "Bob Agent via Central de atendimento",
        "support@example.com",
    )
    assert "Please restart it." in text(reply) and "Please restart it." in html(reply)
    assert "Bob\nSupport team" in text(reply)  # the agent's signature
    assert reply["Auto-Submitted"] is None  # written by a person
    assert english_agent.email not in smtp_server.messages[0][3].decode()
    [cc_mail] = mails["chefe@cliente.com.br"]
    assert cc_mail["Reply-To"] == "support@example.com"  # no account: the plain address


def test_internal_notes_reach_only_staff(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, english_agent: Any, customer: Any
) -> None:
    services.ticket_assign(ticket=ticket, assignee=english_agent, actor=agent)
    OutboxItem.objects.all().delete()
    smtp_server.messages.clear()
    services.ticket_reply_add(ticket=ticket, author=agent, body="Secret: VIP", internal=True)
    send_all()
    mails = by_rcpt(smtp_server)
    assert set(mails) == {english_agent.email}
    assert "Secret: VIP" in text(mails[english_agent.email][0])
    assert "internal note" in text(mails[english_agent.email][0])


def test_a_customer_reply_goes_to_the_assignee_only(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, english_agent: Any, customer: Any
) -> None:
    services.ticket_assign(ticket=ticket, assignee=english_agent, actor=agent)
    send_all()
    assert [m["Subject"] for m in by_rcpt(smtp_server)[english_agent.email]] == [
        f"[{ticket.reference}] {ticket.subject}"  # the "assigned to you" notice
    ]
    assert "assigned ticket" in text(by_rcpt(smtp_server)[english_agent.email][0])
    smtp_server.messages.clear()
    services.ticket_reply_add(ticket=ticket, author=customer, body="Still broken")
    send_all()
    mails = by_rcpt(smtp_server)
    assert set(mails) == {english_agent.email}
    assert parseaddr(mails[english_agent.email][0]["From"])[0] == "Carla Cliente via Helpdesk"
    assert "Still broken" in text(mails[english_agent.email][0])


def test_resolution_asks_to_confirm_or_reopen_and_closing_sends_a_survey(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, customer: Any
) -> None:
    send_all()
    smtp_server.messages.clear()
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    send_all()
    [resolved] = by_rcpt(smtp_server)[customer.email]
    links = re.findall(r'href="(http://127\.0\.0\.1:8000/feedback/[^"]+)"', html(resolved))
    actions = {parse_feedback_token(link.rstrip("/").rsplit("/", 1)[1]) for link in links}
    assert actions == {(ticket.pk, customer.pk, "confirm"), (ticket.pk, customer.pk, "reopen")}
    assert "resolvido" in text(resolved)

    smtp_server.messages.clear()
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=customer)
    send_all()
    [closed] = by_rcpt(smtp_server)[customer.email]
    links = re.findall(r"http://127\.0\.0\.1:8000/feedback/(\S+?)/", text(closed))
    assert (ticket.pk, customer.pk, "rate") in {parse_feedback_token(t) for t in links}


def test_reply_and_resolve_is_one_mail_and_one_notice_for_the_requester(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, customer: Any
) -> None:
    from helpdesk.models import Notification as Notice

    send_all()
    smtp_server.messages.clear()
    services.ticket_reply_add(
        ticket=ticket, author=agent, body="Troquei o toner.", set_status=Status.RESOLVED
    )
    send_all()
    [mail] = by_rcpt(smtp_server)[customer.email]  # the reply, not a reply and a notice
    assert "Troquei o toner." in text(mail) and "resolvido" in text(mail)
    links = re.findall(r'href="(http://127\.0\.0\.1:8000/feedback/[^"]+)"', html(mail))
    actions = {parse_feedback_token(link.rstrip("/").rsplit("/", 1)[1]) for link in links}
    assert actions == {(ticket.pk, customer.pk, "confirm"), (ticket.pk, customer.pk, "reopen")}
    assert list(Notice.objects.filter(recipient=customer).values_list("kind", flat=True)) == [
        "reply"
    ]
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_no_address_gets_more_than_the_hourly_cap_of_mails(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, customer: Any, settings: Any
) -> None:
    """L5, an outbound storm: a runaway series of changes mails the customer at
    most the cap an hour; the rest stay in the outbox as skipped, never sent."""
    settings.HELPDESK_NOTIFY_MAX_PER_HOUR = 5
    for n in range(8):
        services.ticket_reply_add(ticket=ticket, author=agent, body=f"Resposta {n}")
    send_all()
    to_customer = OutboxItem.objects.filter(recipient=customer.email)
    assert to_customer.filter(status=OutboxItem.Status.SENT).count() == 5
    skipped = to_customer.filter(status=OutboxItem.Status.SKIPPED)
    assert skipped.count() == 4  # the confirmation of the new ticket counted too
    assert "cap of 5" in skipped.first().last_error  # type: ignore[union-attr]
    assert len(by_rcpt(smtp_server)[customer.email]) == 5
    # Skipped mails were never sent: nobody can answer them, so no Message-ID is kept.
    assert not MailId.objects.filter(message_id__in=skipped.values("message_id")).exists()


def test_urgent_priority_and_reopening_reach_the_team_and_assignee(
    smtp_server: SMTPCapture,
    ticket: Any,
    agent: Any,
    english_agent: Any,
    manager: Any,
    customer: Any,
) -> None:
    services.ticket_assign(ticket=ticket, assignee=english_agent, actor=manager)
    send_all()
    smtp_server.messages.clear()
    services.ticket_priority_set(ticket=ticket, priority=Priority.URGENT, actor=manager)
    send_all()
    assert set(by_rcpt(smtp_server)) == {agent.email, english_agent.email}
    assert "urgent" in text(by_rcpt(smtp_server)[english_agent.email][0])

    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=english_agent)
    send_all()
    smtp_server.messages.clear()
    services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=customer)
    send_all()
    mails = by_rcpt(smtp_server)
    assert set(mails) == {english_agent.email}
    assert "reopened" in text(mails[english_agent.email][0])


def test_quiet_entries_notify_nobody(smtp_server: SMTPCapture, ticket: Any, customer: Any) -> None:
    before = OutboxItem.objects.count()
    services.ticket_reply_add(ticket=ticket, author=customer, body="I am away", is_quiet=True)
    assert OutboxItem.objects.count() == before


def test_switches_opt_outs_and_bouncing_addresses_are_honoured(
    smtp_server: SMTPCapture, customer: Any, agent: Any, english_agent: Any, category: Any
) -> None:
    NotificationSetting.objects.create(event=Notification.TICKET_CREATED, enabled=False)
    NotificationOptOut.objects.create(user=agent, event=Notification.NEW_TICKET)
    services.ticket_create(requester=customer, subject="A", body="b", category=category)
    assert list(OutboxItem.objects.values_list("recipient", flat=True)) == [english_agent.email]

    # Bouncing at enqueue time: not queued; bouncing by delivery time: skipped.
    BouncingAddress.objects.create(email=english_agent.email)
    services.ticket_create(requester=customer, subject="B", body="b", category=category)
    assert OutboxItem.objects.count() == 1
    item = OutboxItem.objects.get()
    send_all()
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.SKIPPED
    assert smtp_server.messages == []


@override_settings(HELPDESK_SUPPORT_NAME="Acme Help")
def test_it_uses_the_configured_sender_name(
    smtp_server: SMTPCapture, customer: Any, category: Any
) -> None:
    services.ticket_create(requester=customer, subject="x", body="y", category=category)
    send_all()
    assert parseaddr(smtp_server.mails()[0]["From"]) == ("Acme Help", "support@example.com")


def test_an_agent_reply_carries_its_files(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, customer: Any
) -> None:
    deliver_due()
    smtp_server.messages.clear()
    services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="Segue o manual.",
        attachments=[
            services.NewAttachment(
                name="manual\r\nBcc: x@y.z.pdf",
                content_type="application/pdf",
                content=b"%PDF-1.4 x",
            ),
            services.NewAttachment(
                name="relatório.csv", content_type="text/csv", content=b"a,b\n1,2\n"
            ),
        ],
    )
    deliver_due()
    [(_f, _rcpts, mail, raw)] = smtp_server.messages
    files = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert files == {"manualBcc: x@y.z.pdf": b"%PDF-1.4 x", "relatório.csv": "a,b\r\n1,2\r\n"}
    assert b"\nBcc:" not in raw


def test_queueing_notifications_costs_a_fixed_number_of_queries(
    customer: Any, agent: Any, english_agent: Any, category: Any, django_assert_max_num_queries: Any
) -> None:
    # The mail gateway creates tickets at hundreds per second: what the
    # subscribers add must not grow with the number of recipients.
    for n in range(3):
        extra = user_create(
            email=f"extra{n}@support.example",
            full_name=f"Extra {n}",
            role=Role.AGENT,
            password=PASSWORD,
        )
        category.default_team.members.add(extra)
    with django_assert_max_num_queries(25):  # 21 measured: 11 of them outbound
        services.ticket_create(requester=customer, subject="Q", body="q", category=category)
    assert OutboxItem.objects.count() == 6

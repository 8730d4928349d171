"""Threading headers on a five-message thread, and header injection."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from outbound.delivery import deliver_due
from outbound.emails import Recipient, make_message
from outbound.headers import clean_header_text, format_address
from outbound.models import OutboxItem
from tickets import services
from tickets.models import MailId, Source

from .conftest import PASSWORD, SMTPCapture


def ids(header: str | None) -> list[str]:
    return [part.strip("<>") for part in (header or "").split()]


def test_a_five_message_thread_nests_in_every_client(
    smtp_server: SMTPCapture, customer: Any, english_agent: Any, category: Any
) -> None:
    root = "first.1@cliente.com.br"
    # 1. The customer writes in; 2. the agent answers; 3. the customer
    # replies by mail; 4. and 5. two more answers from the agent.
    ticket = services.ticket_create(
        requester=customer,
        subject="Sem internet",
        body="Caiu tudo",
        source=Source.EMAIL,
        message_id=f"<{root}>",
        category=category,
    )
    deliver_due()
    services.ticket_reply_add(ticket=ticket, author=english_agent, body="Restart the router.")
    deliver_due()
    services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="Não resolveu",
        source=Source.EMAIL,
        message_id="<second.2@cliente.com.br>",
    )
    deliver_due()
    services.ticket_reply_add(ticket=ticket, author=english_agent, body="Try the other cable.")
    deliver_due()
    services.ticket_reply_add(ticket=ticket, author=english_agent, body="Any news?")
    deliver_due()

    to_customer = [m for _f, rcpts, m, _r in smtp_server.messages if customer.email in rcpts]
    assert [m["Subject"] for m in to_customer] == [
        f"[{ticket.reference}] Sem internet",
        *[f"Re: [{ticket.reference}] Sem internet"] * 3,
    ]
    received: list[str] = []
    for mail in to_customer:
        message_id = mail["Message-ID"].strip("<>")
        refs = ids(mail["References"])
        assert refs[0] == root  # every mail names the thread's root
        assert set(received) <= set(refs)  # and every earlier one the customer has
        assert message_id not in refs and message_id.endswith("@example.com")
        assert MailId.objects.get(message_id=message_id).ticket_id == ticket.pk
        received.append(message_id)
    # Each answers the mail before it in the customer's own mailbox.
    in_reply_to = [ids(m["In-Reply-To"]) for m in to_customer]
    assert in_reply_to == [
        [root],
        [received[0]],
        ["second.2@cliente.com.br"],  # the customer's own reply
        [received[2]],
    ]
    # Agents' notices never leak into the customer's References.
    agent_ids = {
        m["Message-ID"].strip("<>")
        for _f, rcpts, m, _r in smtp_server.messages
        if english_agent.email in rcpts
    }
    assert agent_ids and not agent_ids & {r for m in to_customer for r in ids(m["References"])}
    # Stable ids: each queued row kept the id it went out with.
    sent = {m["Message-ID"].strip("<>") for m in smtp_server.mails()}
    assert sent == set(OutboxItem.objects.values_list("message_id", flat=True))
    assert len(sent) == len(smtp_server.mails())


EVIL = [
    "Hello\r\nBcc: victim@example.org",
    "Hello\nTo: victim@example.org",
    "Hello\rCc: victim@example.org",
    "Hello=0ABcc: victim@example.org",
    "Hello\u2028Bcc: victim@example.org",
    "Hello\u0085Bcc: victim@example.org",
    "Hello\x0b\x0c\x1bBcc: victim@example.org",
    "=?utf-8?q?Hi=0D=0ABcc:_victim@example.org?=",
]


def _reparsed(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.strict)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize("evil", EVIL)
def test_names_and_subjects_cannot_inject_headers(
    smtp_server: SMTPCapture, evil: str, category: Any, team: Any
) -> None:
    customer = user_create(
        email="eve@cliente.com.br", full_name=f"Eve {evil}", role=Role.CUSTOMER, password=PASSWORD
    )
    agent = user_create(
        email="mal@support.example", full_name=f"Mal {evil}", role=Role.AGENT, password=PASSWORD
    )
    team.members.add(agent)
    ticket = services.ticket_create(
        requester=customer, subject=f"Subject {evil}", body="x", category=category
    )
    services.ticket_reply_add(ticket=ticket, author=agent, body="y")
    deliver_due()
    assert len(smtp_server.messages) == 3
    for _sender, rcpts, _msg, raw in smtp_server.messages:
        msg = _reparsed(raw)
        assert len(rcpts) == 1
        assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None
        assert len(msg.get_all("To") or []) == 1 and len(msg.get_all("Subject") or []) == 1
        [to] = msg["To"].addresses  # the name stays a (quoted) name
        assert to.addr_spec == rcpts[0] and "victim" not in rcpts[0]
        assert [a.addr_spec for a in msg["From"].addresses] == ["support@example.com"]
        assert "\n" not in str(msg["Subject"]) and "\u2028" not in str(msg["Subject"])
        for name in msg:
            assert name in {
                "Content-Type",
                "MIME-Version",
                "Subject",
                "From",
                "To",
                "Reply-To",
                "Date",
                "Message-ID",
                "References",
                "In-Reply-To",
                "Auto-Submitted",
                "X-Auto-Response-Suppress",
            }, name


def test_header_helpers_strip_line_breaks() -> None:
    assert clean_header_text("a\r\nb\u2028c\u0085d\te\x00f") == "a b c d e f"
    assert format_address("Ana\r\nBcc: x@y.z", "ana@example.com") == (
        '"Ana Bcc: x@y.z" <ana@example.com>'
    )
    with pytest.raises(ValueError):
        format_address("x", "a@b.c\r\nBcc: d@e.f")


def test_make_message_cleans_custom_headers(db: Any, ticket: Any) -> None:
    from outbound.mails import ticket_context

    msg = make_message(
        "ticket_created",
        Recipient(email="carla@cliente.com.br", name="Carla", language="en"),
        ticket_context(ticket),
        from_name="Support",
        from_email="support@example.com",
        headers={"In-Reply-To": "<a@b>\r\nBcc: x@y.z"},
    )
    parsed = _reparsed(msg.message().as_bytes())
    assert parsed.get_all("Bcc") is None
    assert "We received your request" in msg.body  # English when asked

"""End to end: a customer's mail to the SMTP listener, the worker's mails at
a capture server, replies built from those mails fed back through the
gateway, and a signed webhook — all real parts on 127.0.0.1."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command

from mailgateway.ingest import ingest_raw_email
from mailgateway.smtp import GatewayHandler, make_controller
from outbound import webhooks
from outbound.models import OutboxItem, WebhookEndpoint, WebhookEvent
from outbound.tokens import ReplyToken, parse_reply_address
from tickets.models import Message, Ticket

from .conftest import SMTPCapture, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _gateway_settings(settings: Any, tmp_path: Path) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    settings.HELPDESK_AUTHSERV_ID = ""


@pytest.fixture
def listener(transactional_db: Any) -> Iterator[SimpleNamespace]:
    handler = GatewayHandler(lmtp=False, keep_connections=False)
    controller = make_controller(host="127.0.0.1", port=free_port(), handler=handler)
    controller.start()
    try:
        yield SimpleNamespace(host="127.0.0.1", port=controller.port)
    finally:
        controller.stop()
        handler.shutdown()


def work() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def reply_to(mail: EmailMessage, *, sender: str, body: str) -> bytes:
    """What a mail client builds when its user presses Reply."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = mail["Reply-To"]
    reply["Subject"] = "Re: " + str(mail["Subject"]).removeprefix("Re: ")
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    reply["In-Reply-To"] = mail["Message-ID"]
    reply["References"] = f"{mail.get('References', '')} {mail['Message-ID']}".strip()
    quoted = "\n".join("> " + line for line in mail.get_body(("plain",)).get_content().splitlines())  # type: ignore[union-attr]
    reply.set_content(f"{body}\n\nOn Monday, Support wrote:\n{quoted}\n")
    return reply.as_bytes()


def test_a_mail_conversation_goes_round_and_threads(
    listener: SimpleNamespace,
    smtp_server: SMTPCapture,
    http_receiver: Any,
    english_agent: Any,
) -> None:
    WebhookEndpoint.objects.create(
        name="chat",
        url=http_receiver.url,
        events=list(WebhookEvent.values),
        secret="k",
        allow_private=True,
    )
    # 1. A customer writes to the SMTP listener.
    first = EmailMessage()
    first["From"] = "Carla Cliente <carla@cliente.com.br>"
    first["To"] = "support@example.com"
    first["Subject"] = "Impressora parada"
    first["Message-ID"] = "<root.1@cliente.com.br>"
    first.set_content("Olá, a impressora não funciona.")
    with smtplib.SMTP(listener.host, listener.port, timeout=60) as client:
        client.sendmail("carla@cliente.com.br", ["support@example.com"], first.as_bytes())
    ticket = Ticket.objects.get()
    customer = ticket.created_by

    # 2. The worker sends the confirmation and the agents' notice.
    work()
    by_rcpt = {rcpts[0]: msg for _f, rcpts, msg, _r in smtp_server.messages}
    assert set(by_rcpt) == {"carla@cliente.com.br", english_agent.email}
    confirmation, notice = by_rcpt["carla@cliente.com.br"], by_rcpt[english_agent.email]
    assert confirmation["In-Reply-To"] == "<root.1@cliente.com.br>"
    assert confirmation["Auto-Submitted"] == "auto-replied"
    assert parse_reply_address(notice["Reply-To"]) == ReplyToken(ticket.pk, english_agent.pk)

    # 3. The agent answers the notice from their mail client.
    raw = reply_to(notice, sender="Bob Agent <bob@support.example>", body="Please restart it.")
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=[notice["Reply-To"]])
    assert (result.outcome, result.reference) == ("replied", ticket.reference)
    entry = ticket.messages.order_by("id").last()
    assert entry is not None
    assert entry.author == english_agent and entry.kind == Message.Kind.REPLY
    assert entry.body.strip() == "Please restart it."

    # 4. The customer gets it, from "Bob Agent via Central de atendimento", threaded.
    smtp_server.messages.clear()
    work()
    [(_f, rcpts, answer, raw_answer)] = smtp_server.messages
    assert rcpts == ["carla@cliente.com.br"]
    assert parseaddr(answer["From"]) == (
        "Bob Agent via Central de atendimento",
        "support@example.com",
    )
    assert b"bob@support.example" not in raw_answer
    assert answer["In-Reply-To"] == confirmation["Message-ID"]
    assert answer["References"].split()[0] == "<root.1@cliente.com.br>"
    assert "Please restart it." in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # 5. The customer answers that mail; it lands on the ticket as her.
    raw = reply_to(
        answer, sender="Carla Cliente <carla@cliente.com.br>", body="Funcionou, obrigada!"
    )
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=[answer["Reply-To"]])
    assert (result.outcome, result.reference) == ("replied", ticket.reference)
    entry = ticket.messages.order_by("id").last()
    assert entry is not None and entry.author == customer
    assert entry.body.strip() == "Funcionou, obrigada!"

    smtp_server.messages.clear()
    work()
    [(_f, rcpts, relay, _raw)] = smtp_server.messages
    assert rcpts == [english_agent.email] and "Funcionou" in str(
        relay.get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]

    # Webhooks: every event signed; nothing left in the outbox.
    events = [http_receiver.json(i)["event"] for i in range(len(http_receiver.requests))]
    assert events == ["ticket.created", "reply.added", "reply.added"]
    for request in http_receiver.requests:
        headers = request.headers
        assert webhooks.verify(
            "k",
            headers["X-Helpdesk-Timestamp"],
            request.body.decode(),
            headers["X-Helpdesk-Signature"],
        )
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"sent"}

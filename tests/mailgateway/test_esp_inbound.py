"""ESP inbound webhooks through anymail's real views (Mailgun, Postmark, SES, SendGrid)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from mailgateway.models import InboundMessage
from tests.mailgateway.dovecot import free_port
from tests.mailgateway.imap_helpers import mail
from tickets.models import Ticket

SECRET = "anymail-user:s3cret-pass"
SIGNING_KEY = "mailgun-signing-key-123"


@pytest.fixture
def esp(settings: Any) -> Client:
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    auth = base64.b64encode(SECRET.encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {auth}", raise_request_exception=False)


def _mailgun_form(raw: bytes, *, key: str = SIGNING_KEY) -> dict[str, str]:
    timestamp, token = str(int(time.time())), "f" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "body-mime": raw.decode(),
        "recipient": "support@example.com",
        "sender": "cliente1.esp@exemplo.com.br",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def _postmark(raw: bytes | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "FromFull": {"Email": "cliente2.pm@exemplo.com.br", "Name": "Cliente Dois"},
        "ToFull": [{"Email": "support@example.com", "Name": ""}],
        "Subject": "Cobrança duplicada no cartão",
        "MessageID": "7d3c2b1a-0000-4000-8000-000000000001",
        "TextBody": "Fui cobrado duas vezes este mês.",
        "HtmlBody": "",
        "Headers": [{"Name": "Message-ID", "Value": "<pm-1@exemplo.com.br>"}],
        "OriginalRecipient": "support@example.com",
        "Attachments": [],
    }
    if raw is not None:
        payload["RawEmail"] = raw.decode()
    return payload


@pytest.mark.django_db
def test_a_signed_mailgun_post_becomes_a_ticket(esp: Client) -> None:
    raw = mail(1, tag="mailgun")
    response = esp.post("/anymail/mailgun/inbound_mime/", _mailgun_form(raw))

    assert response.status_code == 200
    [row] = InboundMessage.objects.filter(door="esp")
    assert row.mailbox == "mailgun" and row.outcome == "created"
    assert Ticket.objects.get().subject == "Pedido mailgun número 1"

    # The ESP retries (lost 200): one ticket still.
    assert esp.post("/anymail/mailgun/inbound_mime/", _mailgun_form(raw)).status_code == 200
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_a_postmark_post_becomes_a_ticket_with_or_without_raw_email(esp: Client) -> None:
    response = esp.post(
        "/anymail/postmark/inbound/", json.dumps(_postmark()), content_type="application/json"
    )
    assert response.status_code == 200
    assert Ticket.objects.get().subject == "Cobrança duplicada no cartão"

    raw = mail(3, tag="postmark-raw")
    response = esp.post(
        "/anymail/postmark/inbound/", json.dumps(_postmark(raw)), content_type="application/json"
    )
    assert response.status_code == 200
    assert Ticket.objects.filter(subject="Pedido postmark-raw número 3").exists()


@pytest.mark.django_db
def test_sendgrid_raw_and_amazon_ses_sns_posts_become_tickets(esp: Client) -> None:
    raw = mail(4, tag="sendgrid")
    envelope = json.dumps(
        {"from": "cliente4.sendgrid@exemplo.com.br", "to": ["support@example.com"]}
    )
    response = esp.post("/anymail/sendgrid/inbound/", {"email": raw.decode(), "envelope": envelope})
    assert response.status_code == 200

    raw = mail(5, tag="ses")
    ses_event = {
        "notificationType": "Received",
        "mail": {"source": "cliente5.ses@exemplo.com.br", "messageId": "ses-5"},
        "receipt": {
            "recipients": ["support@example.com"],
            "action": {"type": "SNS", "encoding": "BASE64", "topicArn": "arn:aws:sns:x:1:t"},
            "spamVerdict": {"status": "PASS"},
        },
        "content": base64.b64encode(raw).decode(),
    }
    sns = {
        "Type": "Notification",
        "MessageId": "sns-5",
        "TopicArn": "arn:aws:sns:x:1:t",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-11-28T01:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem",
    }
    response = esp.post(
        "/anymail/amazon_ses/inbound/",
        json.dumps(sns),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="sns-5",
    )
    assert response.status_code == 200, response.content
    subjects = set(Ticket.objects.values_list("subject", flat=True))
    assert subjects == {"Pedido sendgrid número 4", "Pedido ses número 5"}


@pytest.mark.django_db
def test_bad_signature_or_auth_is_rejected_without_side_effects(esp: Client, settings: Any) -> None:
    raw = mail(6, tag="forged")
    forged = esp.post("/anymail/mailgun/inbound_mime/", _mailgun_form(raw, key="wrong-key"))
    no_auth = Client(raise_request_exception=False).post(
        "/anymail/mailgun/inbound_mime/", _mailgun_form(raw)
    )
    wrong_auth = Client(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"anymail-user:nope").decode(),
        raise_request_exception=False,
    ).post("/anymail/postmark/inbound/", json.dumps(_postmark()), content_type="application/json")

    assert forged.status_code == 400 and no_auth.status_code == 400
    assert wrong_auth.status_code == 400
    assert InboundMessage.objects.count() == 0 and Ticket.objects.count() == 0


@pytest.mark.django_db
def test_without_a_webhook_secret_mail_is_refused_with_503_so_the_esp_keeps_it(
    settings: Any,
) -> None:
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    response = Client(raise_request_exception=False).post(
        "/anymail/mailgun/inbound_mime/", _mailgun_form(mail(7, tag="open"))
    )
    assert response.status_code == 503
    assert InboundMessage.objects.count() == 0


@contextmanager
def _database_down() -> Iterator[None]:
    """Point the connection at a database that is not there, then put it back."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/helpdesk.sqlite3"
    else:
        connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_database_unavailable_answers_5xx_and_the_retry_stores_once(esp: Client) -> None:
    raw = mail(8, tag="outage")
    with _database_down():
        response = esp.post("/anymail/mailgun/inbound_mime/", _mailgun_form(raw))
        postmark = esp.post(
            "/anymail/postmark/inbound/", json.dumps(_postmark()), content_type="application/json"
        )
    assert response.status_code == 503 and postmark.status_code == 503
    assert response["Retry-After"]
    assert InboundMessage.objects.count() == 0

    assert esp.post("/anymail/mailgun/inbound_mime/", _mailgun_form(raw)).status_code == 200
    assert Ticket.objects.count() == 1

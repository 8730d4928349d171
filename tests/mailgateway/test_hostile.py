"""Hostile and broken mail: garbage bytes, the quarantine and its re-processing,
XSS through every field (B5), loops/auto-replies/DSNs (B12). Never a crash:
a ticket or the quarantine, with the raw bytes kept. Structure bombs (B3),
file names (B7) and charsets (B9) run through the real doors in tests/abuse/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailgateway.ingest import ingest_raw_email, reprocess
from mailgateway.models import InboundMessage
from outbound.models import OutboxItem
from tests.mailgateway.conftest import make_mail
from tests.mailgateway.test_sanitize import _HANDLER, XSS
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db

HEAD = (
    b"From: Carla <carla@cliente.com.br>\r\nTo: support@example.com\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 -0300\r\nMIME-Version: 1.0\r\n"
)


def stored(result: Any, raw_dir: Path) -> InboundMessage:
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.raw_path and (raw_dir / row.raw_path).is_file()
    assert row.outcome in {"created", "quarantined"}
    return row


# B3's structure bombs: tests/abuse/test_b3_bombs.py, through the real doors.


def test_garbage_bytes_never_crash(_raw_dir: Path) -> None:
    for raw in [b"\x00\xff" * 1000, b"\r\n\r\n", b"Subject:\r\n\r\n", b"--\r\n" * 100]:
        result = ingest_raw_email(raw, door="pipe")
        assert result.outcome in {"created", "quarantined"}


def test_a_quarantined_mail_can_be_reprocessed_after_a_fix(settings: Any) -> None:
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["other.example"]
    result = ingest_raw_email(make_mail(), door="pipe")
    assert result.outcome == "quarantined"
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    row = InboundMessage.objects.get(pk=result.inbound_id)
    again = reprocess(row)
    assert again.outcome == "created" and again.inbound_id == row.pk
    row.refresh_from_db()
    assert row.error == "" and row.ticket is not None


def test_the_reprocess_command_takes_quarantine_and_stale_pending(
    settings: Any, capsys: Any
) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from mailgateway import store

    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["other.example"]
    ingest_raw_email(make_mail(), door="pipe")
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    # A row a crash left pending: stored, never processed.
    raw = make_mail(subject="Pendente")
    InboundMessage.objects.create(
        door="smtp", sha256="0" * 64, dedupe_key="mid:pending@x", raw_path=store.write_raw(raw),
        received_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    call_command("reprocess_quarantine", "--all")
    assert capsys.readouterr().out.strip() == "re-processed 2: created 2"
    assert Ticket.objects.count() == 2


# B5 through the pipeline: subject, display name, filename and body.
def test_xss_in_every_field_is_stored_inert() -> None:
    payload = "".join(XSS)
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = '"<img src=x onerror=alert(1)>" <carla@cliente.com.br>'
    msg["To"] = "support@example.com"
    msg["Subject"] = "<script>alert('s')</script>"
    msg.set_content("texto")
    msg.add_alternative(f"<html><body>{payload}</body></html>", subtype="html")
    msg.add_attachment(
        b"x", maintype="text", subtype="html", filename='"><svg onload=alert(1)>.html'
    )
    result = ingest_raw_email(msg.as_bytes(), door="pipe")
    ticket = Ticket.objects.get(reference=result.reference)
    message = ticket.messages.get()
    assert "<script" not in message.body_html.lower()
    assert not _HANDLER.search(message.body_html)
    # Text fields stay text (the templates escape them); the name is a display name only.
    assert ticket.subject == "<script>alert('s')</script>"
    assert Attachment.objects.get().file.name.startswith("attachments/")


# B7's file names: tests/abuse/test_b7_filenames.py, through every door.


# B9's charsets: tests/abuse/test_b9_charsets.py, through the pipe and the listener.


# B12: loops, auto-replies, DSNs: stored, never answered.
@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"Auto-Submitted": "auto-replied"}, "autoreply"),
        ({"Auto-Submitted": "auto-generated"}, "autoreply"),
        ({"Precedence": "bulk"}, "autoreply"),
        ({"Precedence": "junk"}, "autoreply"),
        ({"Precedence": "list"}, "autoreply"),
        ({"List-Id": "<lista.example.org>"}, "autoreply"),
        ({"X-Autoreply": "yes"}, "autoreply"),
        ({"X-Autorespond": "yes"}, "autoreply"),
        ({"X-Loop": "support@example.com"}, "quarantined"),
    ],
)
def test_machine_mail_is_stored_but_never_answered(headers: dict[str, str], outcome: str) -> None:
    result = ingest_raw_email(make_mail(headers=headers), door="smtp", envelope_from="x@y.org")
    assert result.outcome == outcome
    assert Ticket.objects.count() == 0
    assert OutboxItem.objects.count() == 0


@pytest.mark.parametrize(
    "subject",
    ["Resposta automática: Pedido", "Ausência temporária", "Fora do escritório",
     "Out of Office: Pedido", "Automatic reply: Pedido", "[Auto] Férias"],
)  # fmt: skip
def test_out_of_office_subjects_are_auto_replies(subject: str) -> None:
    assert ingest_raw_email(make_mail(subject=subject), door="pipe").outcome == "autoreply"


def test_auto_submitted_no_is_a_person() -> None:
    raw = make_mail(headers={"Auto-Submitted": "no"})
    assert ingest_raw_email(raw, door="pipe").outcome == "created"


def test_our_own_mail_coming_back_is_quarantined() -> None:
    raw = make_mail(sender="Suporte <support@example.com>", message_id="<x.1@example.com>")
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "quarantined"
    assert "loop" in InboundMessage.objects.get(pk=result.inbound_id).error


def test_a_colleague_at_a_support_domain_is_not_a_loop(settings: Any) -> None:
    settings.HELPDESK_SUPPORT_DOMAINS = ["example.com"]
    raw = make_mail(sender="Paula <paula@example.com>", message_id="<p1@example.com>")
    assert ingest_raw_email(raw, door="pipe").outcome == "created"


def test_a_sender_over_the_rate_limit_is_a_loop() -> None:
    outcomes = [ingest_raw_email(make_mail(), door="pipe").outcome for _ in range(21)]
    assert outcomes[:20] == ["created"] * 20
    assert outcomes[20] == "quarantined"


def test_a_null_return_path_dsn_over_smtp_is_a_bounce() -> None:
    raw = (
        b"From: postmaster@mx.other.example\r\nTo: support@example.com\r\nSubject: falha\r\n"
        b"Message-ID: <dsn1@mx>\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b" boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfalhou\r\n--R\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; gone@cliente.com.br\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--R--\r\n"
    )
    result = ingest_raw_email(raw, door="smtp", envelope_from="")
    assert result.outcome == "bounce"
    assert Message.objects.count() == 0 and OutboxItem.objects.count() == 0
    from outbound.bounces import is_bouncing

    assert is_bouncing("gone@cliente.com.br")

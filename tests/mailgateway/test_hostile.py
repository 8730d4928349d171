"""Hostile and broken mail: structure bombs (B3), XSS through every field (B5),
filenames (B7), charsets (B9), loops/auto-replies/DSNs (B12). Never a crash:
a ticket or the quarantine, with the raw bytes kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailgateway.ingest import ingest_raw_email, reprocess
from mailgateway.models import InboundMessage
from mailgateway.parse import parse_email
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


# B9: charsets.
@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (b"Content-Type: text/plain; charset=x-unknown\r\n", "Ação".encode("latin-1"), "Ação"),
        (b"Content-Type: text/plain; charset=utf-8\r\n", "Ação".encode("latin-1"), "Ação"),
        (b"Content-Type: text/plain; charset=iso-8859-1\r\n", b"\x93aspas\x94 \x80", "“aspas” €"),
        (b"Content-Type: text/plain; charset=windows-1252\r\n", b"\x93ok\x94", "“ok”"),
        (b"Content-Type: text/plain\r\n", "sem declaração".encode("latin-1"), "sem declaração"),
        (b'Content-Type: text/plain; charset="utf-7"\r\n', b"A+ZeVnLIqe-", "A日本語"),
        (b"Content-Type: text/plain; charset=iso-2022-jp\r\n", "日本".encode("iso-2022-jp"),
         "日本"),
        (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
         b"QcOnw6NvIGNvbSBiYXNlNjQ=", "Ação com base64"),
        (b"Content-Type: text/plain; charset=iso-8859-1\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n", b"A=E7=E3o=\r\n QP", "Ação QP"),
        (b"Content-Type: text/plain; charset=utf-8\r\n", b"ctrl\x00\x07\x1b[31mx\x7f", "ctrl[31mx"),
    ],
)  # fmt: skip
def test_every_charset_gives_readable_clean_text(
    headers: bytes, body: bytes, expected: str
) -> None:
    raw = HEAD + b"Subject: charset\r\n" + headers + b"\r\n" + body + b"\r\n"
    mail = parse_email(raw)
    assert mail.text.strip() == expected
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "created"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"=?utf-8?q?a=0D=0ABcc:_x@y=00z?=", "a Bcc: x@yz"),
        (b"=?iso-8859-1?q?Solicita=E7=E3o?= =?utf-8?b?w6A=?= pasta", "Solicitaçãoà pasta"),
        (b"=?x-unknown?q?caf=E9?=", "café"),
        (b"=?utf-8?b?broken", "=?utf-8?b?broken"),
        ("Ação crua".encode("latin-1"), "Ação crua"),
        ("Ação crua utf8".encode(), "Ação crua utf8"),
    ],
)
def test_subjects_decode_to_one_clean_line(subject: bytes, expected: str) -> None:
    mail = parse_email(HEAD + b"Subject: " + subject + b"\r\n\r\nx\r\n")
    assert mail.subject == expected


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

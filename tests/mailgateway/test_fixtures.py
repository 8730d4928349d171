"""What real clients send (Gmail, Outlook desktop and web, Apple Mail,
Thunderbird, Brazilian webmail), read as bytes: parsed, threaded, quotes folded."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.accounts import customer_get_or_create
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from mailgateway.parse import parse_email
from outbound.models import BouncingAddress
from tests.mailgateway.conftest import FIXTURES, fixture_bytes
from tickets import services
from tickets.models import Attachment, Message, Ticket

OUR_ID = "<20261125171500.4821.1@example.com>"
ALL = sorted(p.name for p in FIXTURES.glob("*.eml"))


def open_ticket(email: str, subject: str = "Chamado") -> Ticket:
    """A ticket HD-2026-0001 for email, with a notification we "sent" as OUR_ID."""
    requester = customer_get_or_create(email=email)
    ticket = services.ticket_create(requester=requester, subject=subject, body="Primeira mensagem")
    Ticket.objects.filter(pk=ticket.pk).update(reference="HD-2026-0001")
    ticket.refresh_from_db()
    services.mail_id_record(ticket=ticket, message_id=OUR_ID, outbound=True)
    return ticket


@pytest.mark.parametrize("name", ALL)
def test_it_parses_every_fixture_into_clean_text(name: str) -> None:
    mail = parse_email(fixture_bytes(name))
    assert mail.sender and mail.subject and mail.message_id
    for text in (mail.subject, mail.text, mail.html):
        assert "\ufffd" not in text
        assert not any(ord(c) < 32 and c not in "\t\n" for c in text)


@pytest.mark.parametrize(
    ("name", "subject", "phrase"),
    [
        ("gmail_new_ptbr.eml", "Problema com a impressão do relatório", "desde a atualização"),
        ("thunderbird_new_attachment_latin1.eml", "Solicitação de acesso à pasta de contratos",
         "autorização assinada pela gerência"),
        ("uol_webmail_new_html_only.eml", "Cobrança em duplicidade no cartão",
         "aparece como “ASSINATURA” nas duas linhas"),
        ("terra_forward_ptbr.eml", "Fwd: Nota fiscal não recebida", "pedido 5531"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_it_opens_a_ticket_from_a_new_mail(name: str, subject: str, phrase: str) -> None:
    result = ingest_raw_email(fixture_bytes(name), door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.subject == subject
    first = ticket.messages.get()
    assert phrase in first.body
    assert first.source == "email"


@pytest.mark.django_db
def test_gmail_keeps_the_cc_as_a_ticket_cc() -> None:
    result = ingest_raw_email(fixture_bytes("gmail_new_ptbr.eml"), door="pipe")
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.created_by.email == "joao.silva@gmail.com"
    assert ticket.created_by.full_name == "João da Silva"
    assert list(ticket.ccs.values_list("email", flat=True)) == ["fernanda.lima@gmail.com"]


@pytest.mark.django_db
def test_thunderbird_attachment_keeps_its_rfc2231_name_and_bytes() -> None:
    ingest_raw_email(fixture_bytes("thunderbird_new_attachment_latin1.eml"), door="pipe")
    attachment = Attachment.objects.get()
    assert attachment.original_name == "autorização.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.file.read().startswith(b"%PDF-1.4")
    assert "autoriza" not in attachment.file.name  # stored under a server-chosen name


@pytest.mark.django_db
def test_html_only_webmail_gets_a_text_version_and_sanitised_html() -> None:
    result = ingest_raw_email(fixture_bytes("uol_webmail_new_html_only.eml"), door="pipe")
    message = Ticket.objects.get(reference=result.reference).messages.get()
    assert message.body.startswith("Prezados,")
    assert "UOL Mail" not in message.body  # the <title>
    assert "font-family" not in message.body_html  # the <style>
    assert "<style" not in message.body_html and "<title" not in message.body_html
    assert "src=" not in message.body_html.replace("data-src=", "")
    assert 'data-src="https://track.uol.com.br/px.gif?id=123"' in message.body_html


@pytest.mark.parametrize(
    ("name", "sender", "rule", "new_text", "quoted_start"),
    [
        ("gmail_reply_ptbr.eml", "joao.silva@gmail.com", "message-id",
         "Troquei o driver como sugerido e agora imprime certinho. Pode fechar.",
         "Em qua., 25 de nov. de 2026 às 14:15"),
        ("gmail_mobile_reply_en.eml", "joao.silva@gmail.com", "message-id",
         "It happened again on the second floor printer.", "On Wed, Nov 25, 2026, 14:15"),
        ("outlook_desktop_reply_ptbr.eml", "maria.souza@empresa.com.br", "message-id",
         "Bom dia,\n\nAinda não consegui acessar. A mensagem é “usuário bloqueado”.\n\n"
         "Atenciosamente,\nMaria Souza\nGerência Financeira", "De: Suporte"),
        ("outlook_web_reply_en.eml", "peter.smith@contoso.com", "subject",
         "Still dropping after the update, log attached tomorrow.\n\nPeter", "______"),
        ("apple_mail_reply_inline_image.eml", "analucia@icloud.com", "message-id",
         "Segue a foto da tela, aparece logo depois do logotipo.\n\nAna",
         "> Em 25 de nov. de 2026, à(s) 14:15"),
        ("thunderbird_reply_signature.eml", "jose.araujo@provedor.net.br", "message-id",
         "Funcionou, obrigado! Já consigo abrir os contratos.", "-- \nJosé Araújo"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_it_threads_a_reply_and_folds_its_quote(
    name: str, sender: str, rule: str, new_text: str, quoted_start: str
) -> None:
    ticket = open_ticket(sender)
    result = ingest_raw_email(fixture_bytes(name), door="pipe")
    assert (result.outcome, result.reference) == ("replied", "HD-2026-0001")
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.verdict["rule"] == rule
    reply = ticket.messages.order_by("id").last()
    assert reply is not None and reply.author is not None
    assert reply.author.email == sender
    assert reply.body == new_text
    assert reply.quoted.startswith(quoted_start)
    assert row.entry == reply


@pytest.mark.django_db
def test_apple_mail_inline_image_is_an_inline_attachment_referenced_by_cid() -> None:
    open_ticket("analucia@icloud.com")
    ingest_raw_email(fixture_bytes("apple_mail_reply_inline_image.eml"), door="pipe")
    image = Attachment.objects.get()
    assert image.is_inline and image.content_type == "image/png"
    assert image.content_id == "F3A1B2C4-D5E6-4F70-8A9B-0C1D2E3F4A5B@home"
    assert image.original_name == "tela.png"
    reply = Message.objects.order_by("id").last()
    assert reply is not None
    assert 'data-cid="F3A1B2C4-D5E6-4F70-8A9B-0C1D2E3F4A5B@home"' in reply.body_html
    assert "cid:" not in reply.body_html


@pytest.mark.django_db
def test_a_dsn_marks_the_failed_recipient_as_bouncing_and_opens_nothing() -> None:
    result = ingest_raw_email(
        fixture_bytes("postfix_dsn_bounce.eml"), door="smtp", envelope_from=""
    )
    assert result.outcome == "bounce"
    bouncing = BouncingAddress.objects.get()
    assert bouncing.email == "cliente.antigo@empresa-fechada.com.br"
    assert "5.1.1" in bouncing.reason
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
def test_an_out_of_office_reply_is_a_quiet_entry_on_its_ticket() -> None:
    ticket = open_ticket("maria.souza@empresa.com.br")
    before = ticket.status
    result = ingest_raw_email(fixture_bytes("outlook_out_of_office_ptbr.eml"), door="pipe")
    assert (result.outcome, result.reference) == ("autoreply", "HD-2026-0001")
    entry = ticket.messages.order_by("id").last()
    assert entry is not None and entry.is_quiet and "férias" in entry.body
    ticket.refresh_from_db()
    assert ticket.status == before


@pytest.mark.django_db
def test_a_vacation_reply_to_nothing_opens_no_ticket(settings: Any) -> None:
    result = ingest_raw_email(fixture_bytes("gmail_vacation_new.eml"), door="pipe")
    assert result.outcome == "autoreply" and result.reference is None
    assert Ticket.objects.count() == 0

"""winmail.dat (TNEF) from Outlook opened into its files and body (issue 13
§5), bounded on hostile input, the original kept whenever it holds more
than could be taken out."""

from __future__ import annotations

import re
import struct
from email.message import EmailMessage
from email.utils import make_msgid
from html import unescape
from typing import Any

import pytest
from django.test import Client

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from mailgateway.parse import InboundAttachment, parse_email
from mailgateway.tnef import TnefError, expand_tnef, read_tnef
from tests.mail_images import png
from tests.mailgateway.tnef_builder import File, attribute, props, tnef
from tickets.models import Ticket

PDF = b"%PDF-1.4 relatorio"
LIMIT = 20 * 1024 * 1024


def outlook_mail(winmail: bytes, *, body: str = "Segue o relatório.\n", sender: str = "") -> bytes:
    """What Exchange sends with "rich text" on: the text part (if any) and
    the winmail.dat, application/ms-tnef."""
    msg = EmailMessage()
    msg["From"] = sender or "Rita Ramos <rita@cliente.com.br>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Relatório de março"
    msg["Message-ID"] = make_msgid(domain="cliente.com.br")
    msg["X-MS-Has-Attach"] = "yes"
    msg["X-MS-TNEF-Correlator"] = "<00000000B1A0@cliente.com.br>"
    if body:
        msg.set_content(body)
        msg.add_attachment(
            winmail, maintype="application", subtype="ms-tnef", filename="winmail.dat"
        )
    else:
        msg.set_content(winmail, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return msg.as_bytes()


def test_it_reads_files_names_types_and_body() -> None:
    stream = tnef(
        body="Segue o relatório.",
        html="<p>Segue o <b>relatório</b>.</p>",
        files=[
            File("relatório de março.pdf", PDF, mime="application/pdf", short_name="RELATO~1.PDF"),
            File("tela.png", png(), content_id="image001.png@01DA"),
            File("notas.txt", b"a\nb\n"),
        ],
    )
    read = read_tnef(stream)
    assert [(f.name, f.content_type, f.data) for f in read.files] == [
        ("relatório de março.pdf", "application/pdf", PDF),
        ("tela.png", "image/png", png()),
        ("notas.txt", "text/plain", b"a\nb\n"),
    ]
    assert read.files[1].content_id == "image001.png@01DA"
    assert read.text == "Segue o relatório."
    assert read.html == "<p>Segue o <b>relatório</b>.</p>"
    assert read.skipped == 0 and not read.rtf_only


def test_a_mail_with_its_own_body_gets_the_files_and_no_winmail_dat(customer: Any) -> None:
    winmail = tnef(
        body="ignored: the mail has its own text",
        files=[
            File("relatório.pdf", PDF, mime="application/pdf"),
            File("foto.jpg", b"\xff\xd8\xff\xe0jpg"),
        ],
    )
    result = ingest_raw_email(
        outlook_mail(winmail, sender=customer.email),
        door="pipe",
        envelope_rcpts=["support@example.com"],
    )
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    message = ticket.messages.get()
    assert message.body.startswith("Segue o relatório.")
    stored = {a.original_name: a for a in ticket.attachments.all()}
    assert set(stored) == {"relatório.pdf", "foto.jpg"}
    assert stored["relatório.pdf"].file.read() == PDF
    assert stored["relatório.pdf"].content_type == "application/pdf"
    assert stored["foto.jpg"].content_type == "image/jpeg"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.verdict["tnef"] == "winmail.dat opened: 2 files"


def test_a_body_only_in_winmail_dat_becomes_the_message_with_its_pasted_image(
    customer: Any, agent: Any
) -> None:
    from tests.helpdesk.conftest import client_for

    winmail = tnef(
        html='<p>Olá, veja a tela:</p><p><img src="cid:image001.png@01DA"></p><p>Obrigada</p>',
        files=[File("image001.png", png(40, 30), mime="image/png", content_id="image001.png@01DA")],
    )
    result = ingest_raw_email(
        outlook_mail(winmail, body="", sender=customer.email),
        door="pipe",
        envelope_rcpts=["support@example.com"],
    )
    ticket = Ticket.objects.get(reference=result.reference)
    message = ticket.messages.get()
    assert "Olá, veja a tela:" in message.body and "Obrigada" in message.body
    image = ticket.attachments.get()
    assert (image.original_name, image.content_id) == ("image001.png", "image001.png@01DA")
    page = client_for(agent).get(f"/tickets/{ticket.reference}/").content.decode()
    frame = unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert f'src="/attachments/{image.pk}/view/"' in frame


def test_an_rtf_only_body_keeps_the_original() -> None:
    winmail = tnef(rtf=b"LZFu compressed rtf", files=[File("a.txt", b"a")])
    mail, note = expand_tnef(parse_email(outlook_mail(winmail, body="")), max_bytes=LIMIT)
    assert [a.filename for a in mail.attachments] == ["a.txt", "winmail.dat"]
    assert note == "winmail.dat opened: 1 files; kept, it holds what cannot be shown"


def test_an_attached_outlook_item_keeps_the_original() -> None:
    winmail = tnef(body="x", files=[File("a.txt", b"a")], embedded_message=True)
    read = read_tnef(winmail)
    assert read.skipped == 1 and [f.name for f in read.files] == ["a.txt"]
    mail, _ = expand_tnef(parse_email(outlook_mail(winmail)), max_bytes=LIMIT)
    assert [a.filename for a in mail.attachments] == ["a.txt", "winmail.dat"]


def winmail_attachment(data: bytes) -> InboundAttachment:
    return InboundAttachment("winmail.dat", "application/ms-tnef", data)


HOSTILE = {
    # A property block claiming 2**32-1 properties in 8 bytes (tnefparse
    # 1.4.0 loops over every one of them: minutes).
    "count bomb": struct.pack("<IH", 0x223E9F78, 1)
    + attribute(1, 0x00069003, struct.pack("<I", 0xFFFFFFFF) + b"\x03\x00\x00\x10"),
    "values bomb": struct.pack("<IH", 0x223E9F78, 1)
    + attribute(1, 0x00069003, props(struct.pack("<HHI", 0x1003, 0x3000, 0xFFFFFFFF))),
    "truncated": tnef(files=[File("a.pdf", PDF)])[:-30],
    "length past the end": struct.pack("<IH", 0x223E9F78, 1)
    + struct.pack("<BII", 2, 0x0006800F, 0x7FFFFFFF)
    + b"x" * 100,
    "unknown property type": struct.pack("<IH", 0x223E9F78, 1)
    + attribute(1, 0x00069003, props(struct.pack("<HHI", 0x0001, 0x3000, 0))),
    "too many files": struct.pack("<IH", 0x223E9F78, 1)
    + attribute(2, 0x00069002, b"\x00" * 14) * 201,
    "bad level": struct.pack("<IH", 0x223E9F78, 1) + attribute(7, 0x00069002, b""),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_streams_fail_and_keep_the_original(name: str) -> None:
    with pytest.raises(TnefError):
        read_tnef(HOSTILE[name])
    mail = dataclass_mail([winmail_attachment(HOSTILE[name])])
    expanded, note = expand_tnef(mail, max_bytes=LIMIT)
    assert [a.payload for a in expanded.attachments] == [HOSTILE[name]]
    assert note.startswith("winmail.dat kept: ")


def test_many_empty_attributes_are_read_once() -> None:
    # 2.2 MB of empty attributes: tnefparse 1.4.0 copies the rest of the
    # stream for each (quadratic, over 20 s); here each byte is read once.
    stream = struct.pack("<IH", 0x223E9F78, 1) + attribute(1, 0x00060001, b"") * 200_000
    read = read_tnef(stream)
    assert read.files == () and read.text == ""


def test_a_stream_over_the_limit_is_kept_unopened() -> None:
    stream = tnef(files=[File("big.bin", b"x" * 5000)])
    expanded, note = expand_tnef(dataclass_mail([winmail_attachment(stream)]), max_bytes=1000)
    assert [a.filename for a in expanded.attachments] == ["winmail.dat"]
    assert note == "winmail.dat kept: too large to open"


def test_a_file_named_winmail_dat_that_is_not_tnef_is_left_alone() -> None:
    other = InboundAttachment("winmail.dat", "application/octet-stream", b"just bytes")
    mail = dataclass_mail([other])
    assert expand_tnef(mail, max_bytes=LIMIT) == (mail, "")


def dataclass_mail(attachments: list[InboundAttachment]) -> Any:
    import dataclasses

    base = parse_email(b"From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n")
    return dataclasses.replace(base, attachments=tuple(attachments))


@pytest.mark.django_db
def test_an_agent_downloads_the_files_opened_from_winmail_dat(customer: Any, agent: Any) -> None:
    from tests.helpdesk.conftest import client_for

    winmail = tnef(files=[File("planilha.xlsx", b"PK\x03\x04xlsx")])
    result = ingest_raw_email(
        outlook_mail(winmail, sender=customer.email),
        door="pipe",
        envelope_rcpts=["support@example.com"],
    )
    attachment = Ticket.objects.get(reference=result.reference).attachments.get()
    client: Client = client_for(agent)
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.getvalue() == b"PK\x03\x04xlsx"
    assert "planilha.xlsx" in response["Content-Disposition"]
    assert attachment.content_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )

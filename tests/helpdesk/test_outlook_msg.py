"""An Outlook .msg attached to a mail, shown nested in the thread (issue 13
§5): its headers, body and files, read from a compound file built here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from mailgateway.ingest import ingest_raw_email
from mailgateway.outlook_msg import MsgError, read_msg
from tests.mail_images import pasted_screenshot_mail, png
from tests.mailgateway.msg_builder import MsgFile, outlook_msg
from tickets import services
from tickets.models import Attachment
from tickets.services import NewAttachment

pytestmark = pytest.mark.django_db

NOTA = b"%PDF-1.4 nota fiscal " * 400  # over 4 KB: a regular-sector stream


def pedido_msg() -> bytes:
    return outlook_msg(
        subject="Pedido 4471 atrasado",
        sender=("Ana Souza", "ana@fornecedor.example"),
        to=[("Compras", "compras@cliente.example")],
        cc=[("Bia Lima", "bia@cliente.example")],
        sent=datetime(2026, 3, 3, 13, 15, tzinfo=UTC),
        body="O pedido sai amanhã.",
        html='<p>O pedido <b>sai amanhã</b>.</p><p><img src="cid:logo@f"></p><script>x()</script>',
        files=[
            MsgFile("nota fiscal.pdf", NOTA, "application/pdf"),
            MsgFile("logo.png", png(), "image/png", content_id="logo@f"),
        ],
    )


def test_it_reads_what_the_thread_shows() -> None:
    read = read_msg(pedido_msg())
    assert read.subject == "Pedido 4471 atrasado"
    assert (read.sender.name, read.sender.email) == ("Ana Souza", "ana@fornecedor.example")  # type: ignore[union-attr]
    assert [a.email for a in read.to] == ["compras@cliente.example"]
    assert [a.email for a in read.cc] == ["bia@cliente.example"]
    assert read.date == datetime(2026, 3, 3, 13, 15, tzinfo=UTC)
    assert read.text == "O pedido sai amanhã."
    assert [(a.filename, a.content_type, a.payload) for a in read.attachments] == [
        ("nota fiscal.pdf", "application/pdf", NOTA),
        ("logo.png", "image/png", png()),
    ]
    assert read.attachments[1].content_id == "logo@f"


@pytest.mark.parametrize(
    "data",
    [b"", b"not ole at all", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600],
)
def test_unreadable_files_raise_msg_error(data: bytes) -> None:
    with pytest.raises(MsgError):
        read_msg(data)


def mailed_msg(customer: Any, name: str = "pedido.msg", content_type: str = "") -> Attachment:
    raw = pasted_screenshot_mail(
        sender=customer.email,
        attachments=((name, content_type or "application/vnd.ms-outlook", pedido_msg()),),
    )
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    return Attachment.objects.get(ticket__reference=result.reference, original_name=name)


def test_an_attached_msg_is_shown_nested(customer: Any, agent_client: Client) -> None:
    attached = mailed_msg(customer)
    page = agent_client.get(f"/tickets/{attached.ticket.reference}/").content.decode()
    assert f'src="/attachments/{attached.pk}/message/"' in page

    body = agent_client.get(f"/attachments/{attached.pk}/message/").content.decode()
    assert "Ana Souza &lt;ana@fornecedor.example&gt;" in body
    assert "Compras &lt;compras@cliente.example&gt;" in body
    assert "Bia Lima &lt;bia@cliente.example&gt;" in body
    assert "Pedido 4471 atrasado" in body
    shown = re.search(r'<time datetime="([^"]+)"', body)
    assert shown is not None  # in the viewer's time zone, the same instant
    assert datetime.fromisoformat(shown.group(1)) == datetime(2026, 3, 3, 13, 15, tzinfo=UTC)
    assert "<b>sai amanhã</b>" in body and "<script" not in body
    assert f'src="/attachments/{attached.pk}/parts/1/"' in body  # its pasted logo
    assert f'href="/attachments/{attached.pk}/parts/0/" download' in body

    nota = agent_client.get(f"/attachments/{attached.pk}/parts/0/")
    assert nota.content == NOTA and nota["Content-Disposition"].startswith("attachment;")
    logo = agent_client.get(f"/attachments/{attached.pk}/parts/1/")
    assert logo["Content-Type"] == "image/png" and logo.content == png()


def test_a_msg_sent_as_octet_stream_is_known_by_its_name(
    customer: Any, agent_client: Client, other_client: Client
) -> None:
    attached = mailed_msg(customer, "fw.msg", "application/octet-stream")
    response = agent_client.get(f"/attachments/{attached.pk}/message/")
    assert "Pedido 4471 atrasado" in response.content.decode()
    assert other_client.get(f"/attachments/{attached.pk}/message/").status_code == 404


def test_a_broken_msg_stays_a_download(ticket: Any, customer: Any, agent_client: Client) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="x",
        attachments=[
            NewAttachment(
                name="a.msg", content_type="application/vnd.ms-outlook", content=pedido_msg()[:700]
            )
        ],
    )
    attached = message.attachments.get()
    response = agent_client.get(f"/attachments/{attached.pk}/message/")
    assert response.status_code == 200
    assert f'href="/attachments/{attached.pk}/"' not in response.content.decode()
    assert agent_client.get(f"/attachments/{attached.pk}/").status_code == 200

"""The reply box's light formatting and pasted images: what is stored, what the
thread shows, and the mail the customer gets (text + HTML, images inline)."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.markup import format_reply
from outbound.mails import build_email
from outbound.models import OutboxItem
from tests.helpdesk.conftest import client_for
from tickets.models import Message, Ticket

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
FORMATTED = (
    "Olá **Carla**, siga os passos com *calma*:\n\n"
    "1. desligue a impressora\n2. troque o toner\n\n"
    "- veja o [manual](https://example.com/manual?x=1&y=2)\n"
    "- ligue de novo\n\n"
    "![tela](paste-1a2b.png)"
)


@pytest.fixture(autouse=True)
def _support(settings: Any) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []


def test_it_converts_the_light_syntax_to_html_and_readable_text() -> None:
    reply = format_reply(FORMATTED, images={"paste-1a2b.png": "abc@example.com"})
    assert "<strong>Carla</strong>" in reply.html and "<em>calma</em>" in reply.html
    assert "<ol><li>desligue a impressora</li><li>troque o toner</li></ol>" in reply.html
    assert '<a href="https://example.com/manual?x=1&amp;y=2"' in reply.html
    assert 'data-cid="abc@example.com"' in reply.html
    assert reply.images == {"paste-1a2b.png"}
    assert reply.text == (
        "Olá *Carla*, siga os passos com _calma_:\n\n"
        "1. desligue a impressora\n2. troque o toner\n\n"
        "- veja o manual <https://example.com/manual?x=1&y=2>\n- ligue de novo\n\n"
        "[tela]"
    )


def test_plain_text_stays_plain_and_markup_is_escaped() -> None:
    assert format_reply("Só texto, https://example.com e snake_case.").html == ""
    reply = format_reply("**<script>alert(1)</script>** [x](javascript:alert(1)) ![a](b.png)")
    assert "<script" not in reply.html and "&lt;script&gt;" in reply.html
    assert "javascript:" not in reply.html.replace("[x](javascript:alert(1))", "")
    assert "<img" not in reply.html  # an image that was not uploaded is not an image


def post_reply(client: Any, ticket: Ticket, **data: Any) -> Any:
    return client.post(reverse("ticket_reply", args=[ticket.reference]), data)


def test_a_formatted_reply_with_a_pasted_image(ticket: Ticket, agent: Any, customer: Any) -> None:
    image = SimpleUploadedFile("paste-1a2b.png", PNG, content_type="image/png")
    other = SimpleUploadedFile("log.txt", b"linha 1\n", content_type="text/plain")
    response = post_reply(client_for(agent), ticket, body=FORMATTED, attachments=[image, other])
    assert response.status_code == 302
    message = ticket.messages.get(kind=Message.Kind.REPLY, author=agent)
    assert message.formatted and "<strong>Carla</strong>" in message.body_html
    assert message.body.startswith("Olá *Carla*") and "**" not in message.body
    inline = message.attachments.get(original_name="paste-1a2b.png")
    assert inline.is_inline and inline.content_id.endswith("@example.com")
    assert f'data-cid="{inline.content_id}"' in message.body_html
    assert not message.attachments.get(original_name="log.txt").is_inline

    # The customer sees it formatted, the image loaded from its download URL.
    page = client_for(customer).get(ticket.get_absolute_url()).content.decode()
    assert "<strong>Carla</strong>" in page
    assert f'src="{reverse("attachment_download", args=[inline.pk])}"' in page
    assert (
        client_for(customer).get(reverse("attachment_download", args=[inline.pk])).status_code
        == 200
    )

    # The customer's mail: text and HTML, the image inline by Content-ID.
    item = OutboxItem.objects.get(recipient=customer.email, event="agent_reply")
    mail = build_email(item.payload)
    parsed = message_from_bytes(mail.message().as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    related = next(p for p in parsed.walk() if p.get_content_type() == "multipart/related")
    html = related.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "<strong>Carla</strong>" in html and "<ol>" in html
    assert f'src="cid:{inline.content_id}"' in html
    # The agent's words read as a mail, not inside the grey quote box.
    assert "border-left:4px" not in html
    assert (
        "Olá *Carla*" in text
        and "1. desligue a impressora" in text
        and "<" not in text.split("---")[0].replace("<https://example.com/manual?x=1&y=2>", "")
    )
    [image_part] = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert image_part["Content-ID"] == f"<{inline.content_id}>"
    assert image_part.get_content() == PNG
    files = [p.get_filename() for p in parsed.iter_attachments()]
    assert files == ["log.txt"]


def test_an_unformatted_reply_is_plain_text_and_not_boxed(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    post_reply(client_for(agent), ticket, body="Pode testar agora?\nObrigada.")
    message = ticket.messages.get(author=agent)
    assert (message.body, message.body_html, message.formatted) == (
        "Pode testar agora?\nObrigada.",
        "",
        False,
    )
    item = OutboxItem.objects.get(recipient=customer.email, event="agent_reply")
    mail = build_email(item.payload)
    html = mail.alternatives[0][0]
    assert "Pode testar agora?<br>Obrigada." in html and "border-left:4px" not in html


def test_customers_write_plain_text(ticket: Ticket, customer: Any) -> None:
    post_reply(client_for(customer), ticket, body="Ainda **não** funciona")
    message = ticket.messages.filter(author=customer).latest("id")
    assert message.body == "Ainda **não** funciona" and not message.formatted


def test_the_editor_is_on_the_staff_page_only(ticket: Ticket, agent: Any, customer: Any) -> None:
    staff = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    assert "js/reply-editor.js" in staff and 'data-editor="reply"' in staff
    mine = client_for(customer).get(ticket.get_absolute_url()).content.decode()
    assert 'data-editor="reply"' not in mine

"""What agents see of a mail in the thread (issue 13 §5): pasted images
where they stood, remote images only on request, image files as thumbnails,
attached mails nested; and the access rules of each URL involved."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest
from django.test import Client

from mailgateway.ingest import ingest_raw_email
from tests.mail_images import pasted_screenshot_mail, png
from tickets import services
from tickets.models import Attachment, Message, Ticket
from tickets.services import NewAttachment

pytestmark = pytest.mark.django_db

REMOTE = "https://tracker.example/pixel.png"


def mailed(customer: Any, **kwargs: Any) -> Ticket:
    raw = pasted_screenshot_mail(sender=customer.email, **kwargs)
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    assert result.outcome == "created", result
    return Ticket.objects.get(reference=result.reference)


def srcdoc(page: str) -> str:
    found = re.search(r'<iframe id="message-\d+-frame"[^>]*srcdoc="([^"]*)"', page)
    assert found, "no mail frame on the page"
    return unescape(found.group(1))


def test_it_shows_a_pasted_screenshot_where_it_stood(customer: Any, agent_client: Client) -> None:
    ticket = mailed(customer)
    image = ticket.attachments.get(original_name="image001.png")
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    html = srcdoc(page)
    assert f'src="/attachments/{image.pk}/view/"' in html
    assert html.index("The screen shows") < html.index("/view/") < html.index("What now?")
    # Shown in the body, so not listed again as a file or thumbnail.
    assert f"/attachments/{image.pk}/" not in page.replace(f"/attachments/{image.pk}/view/", "")
    # The stored HTML keeps the cid: the URL is the viewer's, filled at render.
    assert 'data-cid="' in ticket.messages.get().body_html


def test_the_inline_view_serves_the_image_safely(customer: Any, agent_client: Client) -> None:
    ticket = mailed(customer)
    image = ticket.attachments.get(original_name="image001.png")
    response = agent_client.get(f"/attachments/{image.pk}/view/")
    assert response.status_code == 200
    assert response.getvalue() == png(40, 30)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_customer_sees_their_own_images_and_no_one_elses(
    customer: Any, customer_client: Client, other_client: Client
) -> None:
    ticket = mailed(customer)
    image = ticket.attachments.get(original_name="image001.png")
    assert customer_client.get(f"/attachments/{image.pk}/view/").status_code == 200
    assert other_client.get(f"/attachments/{image.pk}/view/").status_code == 404
    assert Client().get(f"/attachments/{image.pk}/view/").status_code == 302  # to the login


def test_an_image_on_an_internal_note_stays_internal(
    ticket: Ticket, agent: Any, customer_client: Client, agent_client: Client
) -> None:
    note = services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="their screen",
        internal=True,
        attachments=[NewAttachment(name="s.png", content_type="image/png", content=png())],
    )
    image = note.attachments.get()
    assert customer_client.get(f"/attachments/{image.pk}/view/").status_code == 404
    assert agent_client.get(f"/attachments/{image.pk}/view/").status_code == 200


@pytest.mark.parametrize(
    ("name", "declared", "data"),
    [
        (
            "logo.svg",
            "image/svg+xml",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
        ),
        ("fake.png", "image/png", b"<html><script>alert(1)</script></html>"),
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("shot.bmp", "image/bmp", b"BM" + b"\x00" * 60),
    ],
)
def test_nothing_but_a_raster_image_is_served_inline(
    ticket: Ticket, customer: Any, customer_client: Client, name: str, declared: str, data: bytes
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="x",
        attachments=[NewAttachment(name=name, content_type=declared, content=data)],
    )
    attachment = message.attachments.get()
    assert customer_client.get(f"/attachments/{attachment.pk}/view/").status_code == 404
    download = customer_client.get(f"/attachments/{attachment.pk}/")
    assert download["Content-Disposition"].startswith("attachment;")


def test_the_bytes_decide_the_type_not_the_sender(
    ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="x",
        attachments=[NewAttachment(name="x.bin", content_type="text/html", content=png())],
    )
    response = customer_client.get(f"/attachments/{message.attachments.get().pk}/view/")
    assert response["Content-Type"] == "image/png"


def test_a_cid_of_another_message_is_not_loaded(
    customer: Any, agent: Any, agent_client: Client
) -> None:
    first = mailed(customer, cid="shared-cid@client.example")
    image = first.attachments.get()
    # A second mail on the same ticket names the first mail's image.
    services.ticket_reply_add(
        ticket=first,
        author=customer,
        body="again",
        body_html='<p><img data-cid="shared-cid@client.example"></p>',
    )
    page = agent_client.get(f"/tickets/{first.reference}/").content.decode()
    frames = [unescape(f) for f in re.findall(r'srcdoc="([^"]*)"', page)]
    assert len(frames) == 2
    assert f"/attachments/{image.pk}/view/" in frames[0]
    assert "/view/" not in frames[1] and 'data-cid="shared-cid@client.example"' in frames[1]


def test_remote_images_wait_for_show_images(customer: Any, agent_client: Client) -> None:
    ticket = mailed(customer, remote_url=REMOTE)
    message = ticket.messages.get()
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f'data-src="{REMOTE}"' in srcdoc(page)
    assert f'src="{REMOTE}"' not in srcdoc(page).replace("data-src", "")
    url = f"/tickets/{ticket.reference}/messages/{message.pk}/html/?images=1"
    assert f'data-show-images="{url}"'.replace("&", "&amp;") in page or url in unescape(page)
    assert "Show images" in page or "Mostrar imagens" in page

    shown = agent_client.get(url)
    assert shown.status_code == 200
    body = shown.content.decode()
    assert f'src="{REMOTE}"' in body and "data-src" not in body
    assert "/view/" in body  # the pasted screenshot too
    policy = shown["Content-Security-Policy"]
    assert "img-src 'self' data: http: https:" in policy
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "sandbox" in policy and "allow-scripts" not in policy
    assert "frame-ancestors 'self'" in policy
    assert shown["Referrer-Policy"] == "no-referrer"
    assert shown["X-Frame-Options"] == "SAMEORIGIN"

    blocked = agent_client.get(url.replace("?images=1", ""))
    assert 'data-src="' in blocked.content.decode()
    assert "http:" not in blocked["Content-Security-Policy"]


def test_a_mail_without_remote_images_offers_no_button(customer: Any, agent_client: Client) -> None:
    ticket = mailed(customer)
    assert (
        "data-show-images" not in agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    )


def test_a_message_frame_follows_the_thread_rules(
    customer: Any, agent: Any, customer_client: Client, other_client: Client
) -> None:
    ticket = mailed(customer, remote_url=REMOTE)
    message = ticket.messages.get()
    note = services.ticket_reply_add(
        ticket=ticket, author=agent, body="n", internal=True, body_html="<p>secret</p>"
    )
    base = f"/tickets/{ticket.reference}/messages"
    assert customer_client.get(f"{base}/{message.pk}/html/").status_code == 200
    assert other_client.get(f"{base}/{message.pk}/html/").status_code == 404
    assert customer_client.get(f"{base}/{note.pk}/html/").status_code == 404


def test_image_files_are_thumbnails_and_other_files_downloads(
    customer: Any, agent_client: Client
) -> None:
    ticket = mailed(
        customer,
        attachments=(
            ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 40),
            ("report.pdf", "application/pdf", b"%PDF-1.4 x"),
            ("diagram.svg", "image/svg+xml", b"<svg/>"),
        ),
    )
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    photo = ticket.attachments.get(original_name="photo.jpg")
    thumbs = re.search(r'<ul class="thumbnails.*?</ul>', page, re.S)
    assert thumbs is not None
    assert f'href="/attachments/{photo.pk}/view/" data-viewer' in thumbs.group(0)
    assert "report.pdf" not in thumbs.group(0) and "diagram.svg" not in thumbs.group(0)
    files = re.search(r'<ul class="attachments.*?</ul>', page, re.S)
    assert files is not None
    assert "report.pdf" in files.group(0) and "diagram.svg" in files.group(0)
    assert 'id="image-viewer"' in page


def nested_eml(sender: str) -> bytes:
    inner = EmailMessage()
    inner["From"] = "Ana Souza <ana@fornecedor.example>"
    inner["To"] = "compras@cliente.example"
    inner["Date"] = "Tue, 03 Mar 2026 10:15:00 -0300"
    inner["Subject"] = "Pedido 4471 atrasado"
    inner.set_content("O pedido sai amanhã.\n")
    inner.add_alternative(
        '<p>O pedido <b>sai amanhã</b>.</p><p><img src="cid:logo@f"></p>'
        '<p><img src="https://tracker.example/t.gif"></p><script>alert(1)</script>',
        subtype="html",
    )
    html_part = inner.get_body(preferencelist=("html",))
    assert html_part is not None
    html_part.add_related(png(), "image", "png", cid="<logo@f>")
    inner.add_attachment(
        b"%PDF-1.4 nota", maintype="application", subtype="pdf", filename="nota.pdf"
    )
    return pasted_screenshot_mail(
        sender=sender, attachments=(("pedido.eml", "message/rfc822", inner.as_bytes()),)
    )


def test_an_attached_mail_is_shown_nested(customer: Any, agent_client: Client) -> None:
    result = ingest_raw_email(
        nested_eml(customer.email), door="pipe", envelope_rcpts=["support@example.com"]
    )
    ticket = Ticket.objects.get(reference=result.reference)
    attached = ticket.attachments.get(content_type="message/rfc822")
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f'src="/attachments/{attached.pk}/message/"' in page
    assert f'href="/attachments/{attached.pk}/" download' in page  # the raw file stays

    response = agent_client.get(f"/attachments/{attached.pk}/message/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ana Souza &lt;ana@fornecedor.example&gt;" in body
    assert "compras@cliente.example" in body and "Pedido 4471 atrasado" in body
    assert "<b>sai amanhã</b>" in body and "<script" not in body
    assert 'data-src="https://tracker.example/t.gif"' in body
    assert f'src="/attachments/{attached.pk}/parts/0/"' in body  # its pasted logo
    assert f'href="/attachments/{attached.pk}/parts/1/" download' in body  # nota.pdf
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "img-src 'self' data:;" in policy
    assert "frame-ancestors 'self'" in policy

    logo = agent_client.get(f"/attachments/{attached.pk}/parts/0/")
    assert logo["Content-Type"] == "image/png" and logo.content == png()
    nota = agent_client.get(f"/attachments/{attached.pk}/parts/1/")
    assert (
        nota["Content-Disposition"].startswith("attachment;") and nota.content == b"%PDF-1.4 nota"
    )
    assert agent_client.get(f"/attachments/{attached.pk}/parts/2/").status_code == 404


def test_an_attached_mail_keeps_the_ticket_rules(
    customer: Any, customer_client: Client, other_client: Client
) -> None:
    result = ingest_raw_email(
        nested_eml(customer.email), door="pipe", envelope_rcpts=["support@example.com"]
    )
    attached = Attachment.objects.get(
        ticket__reference=result.reference, content_type="message/rfc822"
    )
    for url in (f"/attachments/{attached.pk}/message/", f"/attachments/{attached.pk}/parts/1/"):
        assert customer_client.get(url).status_code == 200
        assert other_client.get(url).status_code == 404


def test_an_unreadable_attached_mail_stays_a_download(
    ticket: Ticket, customer: Any, agent_client: Client
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="x",
        attachments=[
            NewAttachment(name="a.eml", content_type="message/rfc822", content=b"\x00" * 10)
        ],
    )
    attached = message.attachments.get()
    response = agent_client.get(f"/attachments/{attached.pk}/message/")
    assert response.status_code == 200
    assert agent_client.get(f"/attachments/{attached.pk}/").status_code == 200
    other = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="y",
        attachments=[NewAttachment(name="r.pdf", content_type="application/pdf", content=b"%PDF")],
    )
    assert (
        agent_client.get(f"/attachments/{other.attachments.get().pk}/message/").status_code == 404
    )


def test_the_thread_does_no_query_per_image(
    customer: Any, agent: Any, agent_client: Client, django_assert_max_num_queries: Any
) -> None:
    ticket = mailed(customer, remote_url=REMOTE, attachments=(("a.png", "image/png", png()),))
    for i in range(20):
        services.ticket_reply_add(
            ticket=ticket,
            author=customer,
            body=f"more {i}",
            body_html=f'<p>shot {i}</p><img data-cid="c{i}@x"><img data-src="{REMOTE}">',
            attachments=[
                NewAttachment(
                    name=f"s{i}.png", content_type="image/png", content=png(), content_id=f"c{i}@x"
                ),
                NewAttachment(name=f"t{i}.png", content_type="image/png", content=png()),
            ],
        )
    assert Message.objects.filter(ticket=ticket).count() >= 21
    with django_assert_max_num_queries(25):
        page = agent_client.get(f"/tickets/{ticket.reference}/")
    assert page.content.decode().count("/view/") >= 60

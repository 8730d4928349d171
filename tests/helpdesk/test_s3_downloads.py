"""Attachments in the object store (HELPDESK_S3_BUCKET): a download is a
redirect to a short-lived presigned URL, handed out only after the same
access checks; inline images are still streamed with our headers. Against
moto's real S3 server on loopback (tests/objectstore.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from helpdesk.ops import probes
from tests import objectstore
from tests.mail_images import png
from tests.objectstore import S3Server
from tickets import services
from tickets.models import Attachment, Ticket
from tickets.services import NewAttachment

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    yield from objectstore.running()


@pytest.fixture
def s3_settings(settings: Any, s3_server: S3Server) -> S3Server:
    return objectstore.use_in_this_process(settings, s3_server)


def attach(ticket: Ticket, author: Any, name: str, content_type: str, content: bytes) -> Attachment:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=author,
        body="see the file",
        attachments=[NewAttachment(name=name, content_type=content_type, content=content)],
    )
    return message.attachments.get()


def test_a_download_redirects_to_a_presigned_url_carrying_the_disposition(
    s3_settings: S3Server, ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    attachment = attach(ticket, customer, "orçamento.pdf", "application/pdf", b"%PDF-1.4 o")
    assert s3_settings.objects("attachments/") == {attachment.file.name: b"%PDF-1.4 o"}

    response = customer_client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    url = response["Location"]
    assert url.startswith(f"{s3_settings.url}/helpdesk-test/attachments/")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]

    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == b"%PDF-1.4 o"
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == (
        "attachment; filename=\"or_amento.pdf\"; filename*=UTF-8''or%C3%A7amento.pdf"
    )
    # Without the signature the object is private.
    assert requests.get(url.split("?")[0], timeout=30).status_code == 403


def test_a_scriptable_file_comes_back_as_an_octet_stream_download(
    s3_settings: S3Server, ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    attachment = attach(ticket, customer, "page.html", "text/html", b"<script>alert(1)</script>")
    url = customer_client.get(f"/attachments/{attachment.pk}/")["Location"]
    fetched = requests.get(url, timeout=30)
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")


def test_no_url_for_whoever_may_not_read_the_ticket(
    s3_settings: S3Server,
    ticket: Ticket,
    customer: Any,
    agent: Any,
    other_client: Client,
    customer_client: Client,
) -> None:
    public = attach(ticket, customer, "manual.pdf", "application/pdf", b"%PDF-1.4 x")
    assert other_client.get(f"/attachments/{public.pk}/").status_code == 404
    assert Client().get(f"/attachments/{public.pk}/").status_code == 302  # to the login
    assert "/accounts/login/" in Client().get(f"/attachments/{public.pk}/")["Location"]
    note = services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="internal",
        internal=True,
        attachments=[NewAttachment(name="n.txt", content_type="text/plain", content=b"secret")],
    ).attachments.get()
    assert customer_client.get(f"/attachments/{note.pk}/").status_code == 404


def test_an_inline_image_is_streamed_from_the_store_with_our_headers(
    s3_settings: S3Server, ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    image = attach(ticket, customer, "shot.png", "image/png", png(20, 10))
    response = customer_client.get(f"/attachments/{image.pk}/view/")
    assert response.status_code == 200
    assert response.getvalue() == png(20, 10)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_the_probe_heads_the_bucket(s3_settings: S3Server) -> None:
    assert probes.object_store_probe() == {"ok": True, "bucket": "helpdesk-test"}
    # The data dir is the only local place left to watch.
    assert set(probes.disk_probe()["free_mb"]) == {"data"}
    s3_settings.stop()
    assert probes.object_store_probe()["ok"] is False

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tickets import services
from tickets.models import Attachment, Ticket
from tickets.services import NewAttachment

pytestmark = pytest.mark.django_db


def test_it_serves_a_download_with_safe_headers(
    public_attachment: Attachment, customer_client: Client
) -> None:
    response = customer_client.get(f"/attachments/{public_attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 x"
    assert (
        response["Content-Disposition"]
        == "attachment; filename=\"manual.pdf\"; filename*=UTF-8''manual.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("page.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("feed.xml", "application/xml"),
        ("x.js", "text/javascript"),
        ("p.xhtml", "application/xhtml+xml"),
    ],
)
def test_it_never_serves_a_scriptable_type(
    ticket: Ticket, customer: Any, customer_client: Client, name: str, declared: str
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="see file",
        attachments=[
            NewAttachment(name=name, content_type=declared, content=b"<script>alert(1)</script>")
        ],
    )
    attachment = message.attachments.get()
    response = customer_client.get(f"/attachments/{attachment.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


def test_it_encodes_non_ascii_and_hostile_names(
    ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="x",
        attachments=[
            NewAttachment(
                name='orçamento "final".pdf', content_type="application/pdf", content=b"x"
            )
        ],
    )
    response = customer_client.get(f"/attachments/{message.attachments.get().pk}/")
    header = response["Content-Disposition"]
    assert "filename*=UTF-8''or%C3%A7amento%20%22final%22.pdf" in header
    assert 'filename="or_amento _final_.pdf"' in header


def test_note_attachments_are_staff_only(
    note_attachment: Attachment, customer_client: Client, agent_client: Client
) -> None:
    assert customer_client.get(f"/attachments/{note_attachment.pk}/").status_code == 404
    assert agent_client.get(f"/attachments/{note_attachment.pk}/").status_code == 200


def test_other_customers_and_guessed_ids_get_404(
    public_attachment: Attachment, other_client: Client, customer_client: Client
) -> None:
    assert other_client.get(f"/attachments/{public_attachment.pk}/").status_code == 404
    assert customer_client.get(f"/attachments/{public_attachment.pk + 1000}/").status_code == 404


def test_restricted_agents_only_reach_their_teams_files(
    public_attachment: Attachment, agent: Any, settings: Any
) -> None:
    from helpdesk.accounts import user_create

    settings.HELPDESK_AGENTS_SEE_ALL = False
    outsider = user_create(email="zed@support.example", role="agent", password="x-y-z-123456")
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/attachments/{public_attachment.pk}/").status_code == 404
    assert client.get(f"/tickets/{public_attachment.ticket.reference}/").status_code == 404
    client.force_login(agent)  # a member of the ticket's team
    assert client.get(f"/attachments/{public_attachment.pk}/").status_code == 200

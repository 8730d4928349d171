from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from helpdesk.accounts import user_create
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db


def _data(category: Any, **extra: Any) -> dict[str, Any]:
    data = {
        "category": category.pk,
        "priority": "high",
        "subject": "VPN não conecta",
        "description": "Desde a atualização a VPN não conecta.",
    }
    data.update(extra)
    return data


def test_a_customer_opens_a_ticket_with_files(
    customer: Any, customer_client: Client, category: Any
) -> None:
    files = [
        SimpleUploadedFile("print.png", b"\x89PNG...", "image/png"),
        SimpleUploadedFile("log.txt", b"log", "text/plain"),
    ]
    response = customer_client.post(
        "/tickets/new/", _data(category, attachments=files), follow=True
    )
    ticket = Ticket.objects.get()
    assert response.redirect_chain[-1][0] == f"/tickets/{ticket.reference}/"
    page = response.content.decode()
    assert ticket.reference in page and customer.email in page
    assert ticket.created_by == customer and ticket.priority == "high"
    assert ticket.team == category.default_team
    assert sorted(Attachment.objects.values_list("original_name", flat=True)) == [
        "log.txt",
        "print.png",
    ]


def test_it_shows_errors_next_to_the_fields_in_the_users_language(
    customer: Any, customer_client: Client, category: Any
) -> None:
    response = customer_client.post(
        "/tickets/new/", {"priority": "medium", "subject": "", "description": "short"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    # The customer's language is pt-BR.
    assert 'id="id_subject_error"' in page and "Este campo é obrigatório." in page
    assert Ticket.objects.count() == 0


def test_it_refuses_blocked_types_and_big_files(
    customer_client: Client, category: Any, settings: Any
) -> None:
    settings.HELPDESK_MAX_ATTACHMENT_MB = 1
    big = SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 1), "application/pdf")
    evil = SimpleUploadedFile("setup.EXE", b"MZ", "application/octet-stream")
    response = customer_client.post("/tickets/new/", _data(category, attachments=[big, evil]))
    assert response.status_code == 400
    page = response.content.decode()
    assert "big.pdf" in page and "setup.EXE" in page
    assert Ticket.objects.count() == 0


def test_allowed_list_when_configured(
    customer_client: Client, category: Any, settings: Any
) -> None:
    settings.HELPDESK_ALLOWED_EXTENSIONS = [".pdf"]
    response = customer_client.post(
        "/tickets/new/",
        _data(category, attachments=[SimpleUploadedFile("a.png", b"x", "image/png")]),
    )
    assert response.status_code == 400


def test_the_form_announces_limits_to_the_page_script(
    customer_client: Client, settings: Any
) -> None:
    settings.HELPDESK_MAX_ATTACHMENT_MB = 3
    page = customer_client.get("/tickets/new/").content.decode()
    assert f'data-max-bytes="{3 * 1024 * 1024}"' in page
    assert 'data-blocked=".exe,.bat,.cmd,.com,.js,.vbs,.scr,.msi,.jar,.ps1"' in page
    assert "js/form-validation.js" in page and "data-msg-required=" in page


def test_requester_fields_are_ignored_for_customers(
    customer: Any, other_customer: Any, customer_client: Client, category: Any
) -> None:
    customer_client.post(
        "/tickets/new/",
        _data(
            category,
            requester_email=other_customer.email,
            created_by=other_customer.pk,
            status="closed",
        ),
    )
    ticket = Ticket.objects.get()
    assert ticket.created_by == customer and ticket.status == "open"


def test_an_agent_opens_a_ticket_for_a_new_customer(
    agent: Any, agent_client: Client, category: Any
) -> None:
    agent_client.post(
        "/tickets/new/",
        _data(category, requester_email="Nova@Cliente.com", requester_name="Nova Cliente"),
    )
    ticket = Ticket.objects.get()
    assert ticket.created_by.email == "nova@cliente.com" and ticket.created_by.role == "customer"
    assert ticket.messages.get().author == agent


def test_an_unverified_signup_cannot_open_tickets_yet(category: Any) -> None:
    user = user_create(email="new@x.com", password="s3cret-pass-word", email_verified=False)
    client = Client()
    client.force_login(user)
    page = client.get("/tickets/new/").content.decode()
    assert 'action="/accounts/verify/resend/"' in page
    client.post("/tickets/new/", _data(category))
    assert Ticket.objects.count() == 0

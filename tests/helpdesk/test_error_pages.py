from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tickets import services

pytestmark = pytest.mark.django_db


def _body(response: Any, path: str = "") -> str:
    """The page without what differs per request: CSRF tokens and its own path."""
    text = re.sub(r'"X-CSRFToken": "\w+"', "", response.content.decode())
    text = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", text)
    return text.replace(path, "PATH") if path else text


def test_a_foreign_ticket_and_a_missing_one_give_the_same_404(
    customer: Any, other_customer: Any, other_client: Client, public_attachment: Any
) -> None:
    foreign = services.ticket_create(requester=customer, subject="Privado", body="x")
    missing_path, hidden_path = "/tickets/HD-2026-9999/", f"/tickets/{foreign.reference}/"
    missing, hidden = other_client.get(missing_path), other_client.get(hidden_path)
    assert missing.status_code == hidden.status_code == 404
    assert _body(missing, missing_path) == _body(hidden, hidden_path)
    assert "Privado" not in _body(hidden)
    a, b = f"/attachments/{public_attachment.pk}/", "/attachments/999999/"
    assert _body(other_client.get(a), a) == _body(other_client.get(b), b)


def test_our_error_pages_are_used(customer_client: Client, agent: Any) -> None:
    page = customer_client.get("/tickets/HD-2026-9999/").content.decode()
    assert "Central de atendimento" in page  # the layout, in the customer's language
    forbidden = customer_client.post("/tickets/bulk/", {"action": "close"})
    assert forbidden.status_code == 403 and "Central de atendimento" in forbidden.content.decode()
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(agent)
    refused = csrf.post("/tickets/new/", {})
    assert refused.status_code == 403 and "nada foi alterado" in refused.content.decode()


def test_the_500_and_csrf_pages_render_without_a_request() -> None:
    from django.template.loader import render_to_string

    for name in ("500.html", "403_csrf.html"):
        html = render_to_string(name)
        assert "css/app.css" in html and "<script" not in html

"""HELPDESK_API_RATE per token: over it, 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.api.conftest import token_client


def test_a_token_over_its_rate_gets_429_with_retry_after(settings: Any, customer: Any) -> None:
    settings.HELPDESK_API_RATE = "3/minute"
    busy = token_client(customer)
    statuses = [busy.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = busy.get("/api/v1/me/")
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["detail"]
    # Another token of the same person has its own allowance.
    assert token_client(customer).get("/api/v1/me/").status_code == 200


def test_the_session_works_with_csrf_for_writes(customer: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    assert browser.get("/api/v1/me/").status_code == 200
    refused = browser.post(
        "/api/v1/tickets/", {"subject": "s", "body": "b"}, content_type="application/json"
    )
    assert refused.status_code == 403
    browser.get("/accounts/tokens/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    created = browser.post(
        "/api/v1/tickets/",
        {"subject": "s", "body": "b"},
        content_type="application/json",
        headers={"x-csrftoken": token},
    )
    assert created.status_code == 201

"""Personal API tokens: made in the panel or by create_api_token, shown once,
stored hashed, revocable, expiring, with their last use."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from helpdesk.api.models import ApiToken
from tests.api.conftest import expired_client
from tests.helpdesk.conftest import client_for


def test_it_shows_a_new_token_once_and_stores_only_its_hash(customer: Any) -> None:
    client = client_for(customer)
    response = client.post("/accounts/tokens/", {"name": "Meu script", "days": "30"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret and secret in response.content.decode()
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    token = ApiToken.objects.get(user=customer)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.expires_at is not None
    assert secret not in client.get("/accounts/tokens/").content.decode()


def test_a_token_works_records_its_use_and_stops_when_revoked(customer: Any) -> None:
    client = client_for(customer)
    secret = client.post("/accounts/tokens/", {"name": "x", "days": "0"}).context["secret"]
    api = Client(headers={"authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/me/").json()["email"] == customer.email
    token = ApiToken.objects.get(user=customer)
    assert token.last_used_at is not None and token.expires_at is None
    assert client.post("/accounts/tokens/", {"revoke": token.pk}).status_code == 302
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_nobody_revokes_another_users_token(customer: Any, other_customer: Any) -> None:
    token = ApiToken.objects.create(user=customer, name="x", digest="0" * 64, prefix="x")
    assert (
        client_for(other_customer).post("/accounts/tokens/", {"revoke": token.pk}).status_code
        == 404
    )
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_expired_token_is_refused(customer: Any) -> None:
    assert expired_client(customer).get("/api/v1/me/").status_code == 401


def test_the_command_prints_a_working_token(agent: Any) -> None:
    out = io.StringIO()
    call_command("create_api_token", agent.email, "--name", "deploy", stdout=out)
    secret = out.getvalue().strip()
    api = Client(headers={"authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/me/").json()["role"] == "agent"
    assert ApiToken.objects.get(user=agent).name == "deploy"


def test_the_command_refuses_an_unknown_user(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody@example.com", "--name", "x")

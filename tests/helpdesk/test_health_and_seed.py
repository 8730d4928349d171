import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from helpdesk import heartbeats
from helpdesk.models import User


def test_healthz_reports_the_database(client: Client, db: Any) -> None:
    heartbeats.beat("worker", force=True)  # a worker is running
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_a_probe_fails(client: Client, db: Any) -> None:
    from helpdesk import health

    def broken() -> dict[str, Any]:
        raise OSError("disk gone")

    health.register("broken", broken)
    try:
        response = client.get("/healthz")
    finally:
        health._probes.pop("broken")
    assert response.status_code == 503
    assert response.json()["checks"]["broken"] == {"ok": False, "error": "hidden"}


def test_healthcheck_command_prints_json(capsys: Any, db: Any) -> None:
    heartbeats.beat("worker", force=True)
    call_command("healthcheck")
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_seed_demo_is_idempotent_and_prints_passwords_once(
    capsys: Any, settings: Any, db: Any
) -> None:
    settings.HELPDESK_DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo")
    first = capsys.readouterr().out
    assert "agent@example.com" in first and "demo-pass-123" in first
    call_command("seed_demo")
    assert "demo-pass-123" not in capsys.readouterr().out
    roles = dict(User.objects.values_list("email", "role"))
    assert roles["admin@example.com"] == "admin" and roles["customer@example.com"] == "customer"
    agent = User.objects.get(email="agent@example.com")
    assert agent.is_staff and agent.teams.exists() and agent.groups.filter(name="role:agent")
    assert agent.has_perm("tickets.view_ticket")
    assert not User.objects.get(email="customer@example.com").has_perm("tickets.view_ticket")


@pytest.mark.parametrize("email", ["agent@example.com", "AGENT@Example.com"])
def test_login_is_by_case_insensitive_email(
    client: Client, settings: Any, db: Any, email: str
) -> None:
    settings.HELPDESK_DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    response = client.post("/accounts/login/", {"username": email, "password": "demo-pass-123"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_email_is_unique_whatever_the_case(db: Any) -> None:
    from django.db import IntegrityError

    User.objects.create_user("dup@example.com")
    with pytest.raises(IntegrityError):
        User.objects.create_user("DUP@example.com")


def test_healthz_hides_error_details_from_anonymous_monitors(client: Client, agent: Any) -> None:
    from helpdesk import health

    def broken() -> dict[str, Any]:
        raise OSError("imap.internal.example refused user support@x")

    health.register("broken", broken)
    try:
        anonymous = client.get("/healthz").json()["checks"]["broken"]
        client.force_login(agent)
        staff = client.get("/healthz").json()["checks"]["broken"]
    finally:
        health._probes.pop("broken")
    assert anonymous == {"ok": False, "error": "hidden"}
    assert "imap.internal.example" in staff["error"]

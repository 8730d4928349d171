"""A11: secrets never reach a page, /healthz or the logs.

The secrets of an install — SECRET_KEY, the relay's password, a mailbox's
password, an API token, a webhook's signing secret, a password someone typed
at the login page — are set up for real; then the things that could print them
run: a failed sign-in, an IMAP poll against a server that is not there, API
calls with a good and a bad token, every admin list page, the change pages of
the rows that hold them, the System page, the tokens page, /healthz for staff
and for anyone. Every log record (through both our formatters) and every page
is searched for every secret.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from config.logs import JsonFormatter, PlainFormatter
from helpdesk.api.tokens import token_create
from mailgateway.mailboxes import Mailbox
from outbound.models import WebhookEndpoint
from tests.helpdesk.conftest import client_for

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def secrets(settings: Any, agent: Any) -> dict[str, str]:
    settings.EMAIL_HOST_PASSWORD = "relay-Pw-81a7c"
    box = Mailbox(
        name="suporte",
        host="127.0.0.1",
        port=_closed_port(),
        security="none",
        username="suporte@example.com",
    )
    box.set_password("imap-Pw-5c2e9")
    box.save()
    hook = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example.com/hook", secret="hook-Secret-9d0f4"
    )
    _token, api_secret = token_create(user=agent, name="CRM sync")
    return {
        "SECRET_KEY": settings.SECRET_KEY,
        "relay password": "relay-Pw-81a7c",
        "mailbox password": "imap-Pw-5c2e9",
        "API token": api_secret,
        "typed password": "typed-Pw-33aa7",
        "webhook secret": hook.secret,
        "mailbox_id": str(box.pk),
        "hook_id": str(hook.pk),
    }


def _leaks(text: str, secrets: dict[str, str], *, allow: tuple[str, ...] = ()) -> list[str]:
    return [
        name
        for name, value in secrets.items()
        if not name.endswith("_id") and name not in allow and value in text
    ]


def test_secrets_never_reach_the_logs(secrets: dict[str, str], agent: Any, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        Client().post(
            "/accounts/login/", {"username": agent.email, "password": secrets["typed password"]}
        )
        with pytest.raises(CommandError, match="polling failed for: suporte"):
            call_command("poll_imap", "--once", "--mailbox", "suporte")
        api = Client()
        assert (
            api.get(
                "/api/v1/tickets/", HTTP_AUTHORIZATION=f"Bearer {secrets['API token']}"
            ).status_code
            == 200
        )
        bad = f"Bearer {secrets['API token'][:-3]}zzz"
        assert api.get("/api/v1/tickets/", HTTP_AUTHORIZATION=bad).status_code == 401
    assert Mailbox.objects.get(name="suporte").last_error  # the poll did fail, and said so
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    lines = [f.format(r) for r in caplog.records for f in (PlainFormatter(), JsonFormatter())]
    assert _leaks("\n".join(lines), secrets) == []


def test_secrets_never_reach_a_page_or_the_health_report(
    secrets: dict[str, str], admin_user: Any, agent: Any
) -> None:
    staff = client_for(admin_user)
    pages: dict[str, str] = {}
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = staff.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    for url in (
        reverse("admin:mailgateway_mailbox_change", args=[secrets["mailbox_id"]]),
        "/system/",
        "/healthz",
    ):
        pages[url] = staff.get(url).content.decode()
    pages["/healthz (anonymous)"] = Client().get("/healthz").content.decode()
    pages["/accounts/tokens/"] = client_for(agent).get("/accounts/tokens/").content.decode()
    for url, text in pages.items():
        assert _leaks(text, secrets) == [], url
    # The webhook's signing secret is the admin's to copy into the receiving
    # system: shown on its own change page to an admin, and nowhere else.
    hook_page = staff.get(
        reverse("admin:outbound_webhookendpoint_change", args=[secrets["hook_id"]])
    ).content.decode()
    assert _leaks(hook_page, secrets, allow=("webhook secret",)) == []

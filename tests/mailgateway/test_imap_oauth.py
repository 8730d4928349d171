"""XOAUTH2 against Dovecot's oauth2 passdb and a local token endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from mailgateway import imap_health
from mailgateway.mailboxes import Mailbox
from mailgateway.poller import poll_mailbox
from tests.mailgateway.dovecot import Dovecot, OAuthServer
from tests.mailgateway.imap_helpers import mail

pytestmark = pytest.mark.django_db


def _deliver(dovecot: Dovecot, user: str, n: int, tag: str) -> None:
    for i in range(n):
        dovecot.doveadm("save", "-u", user, "-m", "INBOX", input=mail(i, tag=tag))


def _oauth_box(dovecot: Dovecot, oauth: OAuthServer, **fields: Any) -> Mailbox:
    box = Mailbox(
        name=fields.pop("name"),
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=oauth.user,
        auth_method="xoauth2",
        oauth_token_url=oauth.token_url,
        oauth_tenant="contoso",
        oauth_client_id=oauth.client_id,
        oauth_scope="https://outlook.office365.com/.default",
        **fields,
    )
    return box


def test_client_credentials_token_is_obtained_cached_and_refreshed(
    dovecot: Dovecot, oauth_server: OAuthServer
) -> None:
    _deliver(dovecot, oauth_server.user, 2, "cc")
    box = _oauth_box(dovecot, oauth_server, name="m365", oauth_flow="client_credentials")
    box.set_client_secret(oauth_server.client_secret)
    box.save()
    grants_before = len(oauth_server.grants)

    result = poll_mailbox(box)

    assert result.error == "" and result.outcomes["created"] == 2
    [grant] = oauth_server.grants[grants_before:]
    assert grant["grant_type"] == "client_credentials" and grant["path"] == "/contoso/token"
    assert grant["scope"] == "https://outlook.office365.com/.default"
    box.refresh_from_db()
    assert box.token_expires_at and box.token_expires_at > timezone.now() + timedelta(minutes=50)
    token = box.access_token()
    assert token in oauth_server.tokens and token not in box.oauth_access_token_encrypted

    # A second poll reuses the cached token: no new grant.
    assert poll_mailbox(box).error == ""
    assert len(oauth_server.grants) == grants_before + 1

    # The token is about to lapse (and the server already dropped it): a new one is
    # fetched before logging in, and /healthz had warned about it.
    oauth_server.revoke_all()
    box.token_expires_at = timezone.now() + timedelta(minutes=2)
    box.save(update_fields=["token_expires_at"])
    assert any("m365" in w for w in imap_health.probe()["warnings"])
    _deliver(dovecot, oauth_server.user, 1, "cc-after")

    result = poll_mailbox(box)

    assert result.error == "" and result.outcomes == {"created": 1}
    assert len(oauth_server.grants) == grants_before + 2
    box.refresh_from_db()
    assert box.access_token() != token and not imap_health.probe()["warnings"]


def test_refresh_token_flow_logs_in_and_keeps_the_rotated_token(
    dovecot: Dovecot, oauth_server: OAuthServer
) -> None:
    _deliver(dovecot, oauth_server.user, 1, "rt")
    box = _oauth_box(dovecot, oauth_server, name="gmail", oauth_flow="refresh_token")
    box.set_refresh_token(oauth_server.refresh_token)
    box.save()
    old_refresh = oauth_server.refresh_token

    result = poll_mailbox(box)

    assert result.error == "", result.error
    assert oauth_server.grants[-1]["grant_type"] == "refresh_token"
    box.refresh_from_db()
    assert box.refresh_token() == oauth_server.refresh_token != old_refresh


def test_a_refused_token_request_is_recorded_without_the_secret(
    dovecot: Dovecot, oauth_server: OAuthServer
) -> None:
    box = _oauth_box(dovecot, oauth_server, name="bad-secret", oauth_flow="client_credentials")
    box.set_client_secret("wrong-client-secret-xyz")
    box.save()

    result = poll_mailbox(box)

    assert "HTTP 401 invalid_client" in result.error
    box.refresh_from_db()
    assert "invalid_client" in box.last_error and "wrong-client-secret-xyz" not in box.last_error
    assert imap_health.probe()["ok"] is False

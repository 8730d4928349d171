"""OAuth 2.0 access tokens for IMAP XOAUTH2 (Microsoft 365, Google, any RFC 6749 server).

Two flows: client credentials (an app registration allowed to read the mailbox,
Microsoft 365's app-only access) and refresh token (a person granted access once;
Google, or delegated Microsoft 365). The access token and its expiry are cached
on the mailbox row (encrypted) and renewed REFRESH_MARGIN before they lapse, so
a poll every minute never presents an expired token; /healthz warns when a token
gets closer than that to lapsing, which means nobody is refreshing it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import requests
from django.utils import timezone

from mailgateway.mailboxes import Mailbox, OAuthFlow

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=10)
TIMEOUT = 20  # seconds; a token endpoint slower than this is down for our purposes


class OAuthError(Exception):
    """The token endpoint refused or could not be reached. The text holds no secret."""


def token_url(mailbox: Mailbox) -> str:
    return mailbox.oauth_token_url.replace("{tenant}", mailbox.oauth_tenant or "common")


def access_token(mailbox: Mailbox, *, now: datetime | None = None) -> str:
    """A token valid for at least REFRESH_MARGIN, from the cache or the endpoint."""
    now = now or timezone.now()
    cached = mailbox.access_token()
    if cached and mailbox.token_expires_at and mailbox.token_expires_at - REFRESH_MARGIN > now:
        return cached
    return _fetch(mailbox, now)


def _fetch(mailbox: Mailbox, now: datetime) -> str:
    if not mailbox.oauth_token_url:
        raise OAuthError("no OAuth token endpoint configured")
    form = {"client_id": mailbox.oauth_client_id}
    if mailbox.oauth_scope:
        form["scope"] = mailbox.oauth_scope
    secret = mailbox.client_secret()
    if mailbox.oauth_flow == OAuthFlow.REFRESH_TOKEN:
        refresh = mailbox.refresh_token()
        if not refresh:
            raise OAuthError("the refresh-token flow needs a refresh token")
        form.update(grant_type="refresh_token", refresh_token=refresh)
        if secret:  # public clients (desktop apps) have none
            form["client_secret"] = secret
    else:
        if not secret:
            raise OAuthError("the client-credentials flow needs a client secret")
        form.update(grant_type="client_credentials", client_secret=secret)
    url = token_url(mailbox)
    try:
        response = requests.post(url, data=form, timeout=TIMEOUT)
    except requests.RequestException as exc:
        # The exception text holds the URL only, never the form body.
        raise OAuthError(f"token endpoint unreachable: {type(exc).__name__}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200 or "access_token" not in payload:
        # error / error_description are meant for the client; our secrets are not in them.
        detail = " ".join(
            str(payload.get(key, ""))[:200] for key in ("error", "error_description")
        ).strip()
        raise OAuthError(f"token endpoint answered HTTP {response.status_code} {detail}".strip())
    token = str(payload["access_token"])
    try:
        lifetime = int(payload.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    mailbox.set_access_token(token)
    mailbox.token_expires_at = now + timedelta(seconds=lifetime)
    fields = ["oauth_access_token_encrypted", "token_expires_at"]
    if payload.get("refresh_token"):
        # Microsoft rotates refresh tokens: keep the newest or the next refresh fails.
        mailbox.set_refresh_token(str(payload["refresh_token"]))
        fields.append("oauth_refresh_token_encrypted")
    mailbox.save(update_fields=fields)
    log.info("mailbox %s: new OAuth access token, valid %ss", mailbox.name, lifetime)
    return token

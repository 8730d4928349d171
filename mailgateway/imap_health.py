"""The /healthz probe for IMAP mailboxes: errors, stale polls, lapsing credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from mailgateway.mailboxes import AuthMethod, Mailbox

TOKEN_WARNING = timedelta(minutes=5)  # below oauth.REFRESH_MARGIN: nobody is refreshing it
CREDENTIALS_WARNING = timedelta(days=14)


def probe() -> dict[str, Any]:
    """Unhealthy when a mailbox's last poll failed or none succeeded for a while.

    Warnings (a token about to lapse, credentials expiring soon) are listed but do
    not make the check fail by themselves.
    """
    now = timezone.now()
    stale_after = timedelta(minutes=getattr(settings, "HELPDESK_IMAP_STALE_MINUTES", 30))
    boxes: list[dict[str, Any]] = []
    warnings: list[str] = []
    ok = True
    for box in Mailbox.objects.filter(is_active=True).order_by("name"):
        entry: dict[str, Any] = {
            "name": box.name,
            "last_success": box.last_success_at.isoformat() if box.last_success_at else None,
            "ok": True,
        }
        if box.last_error:
            entry.update(ok=False, error=box.last_error[:300])
        since = box.last_success_at or box.created_at
        if now - since > stale_after:
            entry.update(ok=False, stale=True)
        if box.auth_method == AuthMethod.XOAUTH2:
            expires = box.token_expires_at
            entry["token_expires"] = expires.isoformat() if expires else None
            if expires and expires - now < TOKEN_WARNING:
                lapse = "lapsed" if expires <= now else "lapses"
                warnings.append(f"{box.name}: OAuth access token {lapse} at {expires.isoformat()}")
        if box.credentials_expire_on:
            left = box.credentials_expire_on - timezone.localdate(now)
            if left < CREDENTIALS_WARNING:
                warnings.append(
                    f"{box.name}: credentials expire on {box.credentials_expire_on.isoformat()}"
                )
        ok = ok and entry["ok"]
        boxes.append(entry)
    return {"ok": ok, "mailboxes": boxes, "warnings": warnings}

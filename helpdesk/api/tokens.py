"""Creating, checking and revoking personal API tokens."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.utils import timezone

from helpdesk.api.models import ApiToken
from helpdesk.audit import audit_record
from helpdesk.models import AuditEntry

# last_used_at is written at most this often per token: not a write per request.
TOUCH_EVERY = datetime.timedelta(minutes=1)
PREFIX = "hd_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *, user: Any, name: str, expires_at: datetime.datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for user and its secret, which is never stored nor shown again."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=" ".join(name.split())[:100],
        digest=_digest(secret),
        prefix=secret[len(PREFIX) : len(PREFIX) + 8],
        expires_at=expires_at,
    )
    audit_record(action=AuditEntry.Action.TOKEN_CREATED, obj=token, actor_email=user.email)
    return token, secret


def token_check(secret: str) -> ApiToken | None:
    """The usable token with this secret (its user active), or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(secret), user__is_active=True)
        .first()
    )
    if token is None or not token.is_usable:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action=AuditEntry.Action.TOKEN_REVOKED, obj=token)

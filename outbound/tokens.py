"""Per-recipient reply addresses: support+<token>@domain.

The token names the ticket and the person a notification went to, signed
with an HMAC of SECRET_KEY, so a reply that comes back to that address is
known to be from someone who received our mail about that ticket. Tokens
are lower case because some MTAs fold the local part's case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings

_TOKEN_RE = re.compile(r"^t([0-9a-z]+)u([0-9a-z]+)k([a-z2-7]{16})$")


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if not number:
            return out


def _mac(ticket_id: int, user_id: int, key: str) -> str:
    digest = hmac.new(key.encode(), f"reply:{ticket_id}:{user_id}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()).decode().lower()[:16]


def reply_token(ticket_id: int, user_id: int) -> str:
    return f"t{_b36(ticket_id)}u{_b36(user_id)}k{_mac(ticket_id, user_id, settings.SECRET_KEY)}"


def reply_address(ticket_id: int, user_id: int) -> str:
    local, _, domain = settings.HELPDESK_SUPPORT_ADDRESS.partition("@")
    return f"{local}+{reply_token(ticket_id, user_id)}@{domain}"


def parse_reply_token(token: str) -> tuple[int, int] | None:
    """(ticket_id, user_id) for a valid token, None for anything else."""
    match = _TOKEN_RE.match(token.strip().lower())
    if not match:
        return None
    ticket_id, user_id = int(match.group(1), 36), int(match.group(2), 36)
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if any(hmac.compare_digest(match.group(3), _mac(ticket_id, user_id, k)) for k in keys):
        return ticket_id, user_id
    return None


def parse_reply_address(address: str) -> tuple[int, int] | None:
    """(ticket_id, user_id) from support+<token>@domain, None if absent or forged."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    support_local, _, support_domain = settings.HELPDESK_SUPPORT_ADDRESS.lower().partition("@")
    base, plus, token = local.partition("+")
    if not plus or domain != support_domain or base != support_local:
        return None
    return parse_reply_token(token)

"""Per-recipient reply addresses: support+<token>@domain.

The token names the ticket and the person a notification went to, signed
with an HMAC of SECRET_KEY, so a reply that comes back to that address is
known to be from someone who received our mail about that ticket. Tokens
are lower case because some MTAs fold the local part's case.

Staff-only notices (an internal note, an assignment) carry a token of the
"note" kind: a reply to them is an internal note unless the agent asks for
a public reply, so a hurried Reply never sends internal talk to a customer.
The kind is its first letter (t: reply, n: note) and is signed with the rest.

A forward to an outside address (a supplier, who has no account) carries a
token of the "forward" kind (f) naming the forward entry instead of a person:
its answer becomes an internal note on the ticket, never a participant's reply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

_TOKEN_RE = re.compile(r"^([tnf])([0-9a-z]+u[0-9a-z]+)k([a-z2-7]{16})$")
_PURPOSE = {"t": "reply", "n": "note", "f": "forward"}


@dataclass(frozen=True)
class ReplyToken:
    ticket_id: int
    user_id: int
    internal: bool = False  # the mail it answers was for staff only
    # A forward's token: the forward entry (tickets.Message) it answers;
    # user_id is then 0, nobody.
    entry_id: int | None = None


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if not number:
            return out


def _mac(ticket_id: int, user_id: int, key: str, purpose: str = "reply") -> str:
    digest = hmac.new(key.encode(), f"{purpose}:{ticket_id}:{user_id}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()).decode().lower()[:16]


def reply_token(ticket_id: int, user_id: int, *, internal: bool = False) -> str:
    kind = "n" if internal else "t"
    mac = _mac(ticket_id, user_id, settings.SECRET_KEY, _PURPOSE[kind])
    return f"{kind}{_b36(ticket_id)}u{_b36(user_id)}k{mac}"


def reply_address(ticket_id: int, user_id: int, *, internal: bool = False) -> str:
    local, _, domain = settings.HELPDESK_SUPPORT_ADDRESS.partition("@")
    return f"{local}+{reply_token(ticket_id, user_id, internal=internal)}@{domain}"


def forward_address(ticket_id: int, entry_id: int) -> str:
    """The Reply-To of a forward: its answer is filed as an internal note."""
    mac = _mac(ticket_id, entry_id, settings.SECRET_KEY, _PURPOSE["f"])
    local, _, domain = settings.HELPDESK_SUPPORT_ADDRESS.partition("@")
    return f"{local}+f{_b36(ticket_id)}u{_b36(entry_id)}k{mac}@{domain}"


def parse_reply_token(token: str) -> ReplyToken | None:
    """The ticket, person and kind of a valid token, None for anything else."""
    match = _TOKEN_RE.match(token.strip().lower())
    if not match:
        return None
    kind, ids, signature = match.groups()
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    # Base 36 digits include "u": try every split, the signature tells the right one.
    for at in (i for i, char in enumerate(ids) if char == "u"):
        head, tail = ids[:at], ids[at + 1 :]
        if not head or not tail:
            continue
        ticket_id, user_id = int(head, 36), int(tail, 36)
        if any(
            hmac.compare_digest(signature, _mac(ticket_id, user_id, key, _PURPOSE[kind]))
            for key in keys
        ):
            if kind == "f":
                return ReplyToken(ticket_id, 0, internal=True, entry_id=user_id)
            return ReplyToken(ticket_id, user_id, internal=kind == "n")
    return None


def parse_reply_address(address: str) -> ReplyToken | None:
    """The token of support+<token>@domain, None if absent or forged."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    support_local, _, support_domain = settings.HELPDESK_SUPPORT_ADDRESS.lower().partition("@")
    base, plus, token = local.partition("+")
    if not plus or domain != support_domain or base != support_local:
        return None
    return parse_reply_token(token)

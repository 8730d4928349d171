"""Signed links that let a customer confirm, reopen or rate a ticket from a
mail without logging in. The token names the ticket, the person and the
action, and expires."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

ACTIONS = frozenset({"confirm", "reopen", "rate"})
SALT = "helpdesk.feedback"
MAX_AGE = 60 * 60 * 24 * 30  # a month: long enough for a slow customer


def make_feedback_token(*, ticket_id: int, user_id: int, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"Unknown feedback action {action!r}.")
    return signing.dumps({"t": ticket_id, "u": user_id, "a": action}, salt=SALT, compress=True)


def parse_feedback_token(token: str) -> tuple[int, int, str] | None:
    """(ticket_id, user_id, action), or None when forged, expired or malformed."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
        ticket_id, user_id, action = int(data["t"]), int(data["u"]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (ticket_id, user_id, action) if action in ACTIONS else None


def feedback_path(*, ticket_id: int, user_id: int, action: str) -> str:
    """The site-relative URL of the feedback page; mails prefix HELPDESK_BASE_URL."""
    token = make_feedback_token(ticket_id=ticket_id, user_id=user_id, action=action)
    return reverse("ticket_feedback", kwargs={"token": token})

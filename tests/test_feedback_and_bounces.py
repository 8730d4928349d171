from typing import Any

from django.core import signing

from helpdesk.feedback import make_feedback_token, parse_feedback_token
from outbound.bounces import clear_bouncing, is_bouncing, mark_bouncing


def test_feedback_tokens_round_trip_and_reject_tampering() -> None:
    token = make_feedback_token(ticket_id=3, user_id=4, action="confirm")
    assert parse_feedback_token(token) == (3, 4, "confirm")
    assert parse_feedback_token(token[:-2] + "xx") is None
    forged = signing.dumps({"t": 3, "u": 4, "a": "confirm"}, salt="other")
    assert parse_feedback_token(forged) is None


def test_bouncing_addresses_are_counted_and_cleared(db: Any) -> None:
    mark_bouncing(email="<Gone@Example.com>", reason="550 no such user")
    row = mark_bouncing(email="gone@example.com")
    assert row.bounces == 2 and row.reason == "550 no such user"
    assert is_bouncing("GONE@example.com")
    clear_bouncing(email="gone@example.com")
    assert not is_bouncing("gone@example.com")

import pytest

from outbound.tokens import ReplyToken, parse_reply_address, reply_address, reply_token


def test_it_round_trips_and_survives_case_folding(settings: object) -> None:
    address = reply_address(1234, 56)
    assert address.startswith("support+t") and address.endswith("@example.com")
    assert parse_reply_address(address) == ReplyToken(1234, 56)
    assert parse_reply_address(address.upper()) == ReplyToken(1234, 56)
    assert parse_reply_address(f"<{address}>") == ReplyToken(1234, 56)


@pytest.mark.parametrize(
    "tamper",
    # The signature is random per SECRET_KEY: the second change must differ from its last char.
    [lambda t: t.replace("u1k", "u2k"), lambda t: t[:-1] + ("b" if t.endswith("a") else "a")],
)
def test_it_refuses_forged_tokens(tamper: object) -> None:
    token = reply_token(7, 1)
    forged = tamper(token)  # type: ignore[operator]
    assert forged != token
    assert parse_reply_address(f"support+{forged}@example.com") is None


def test_it_refuses_other_domains_and_plain_addresses() -> None:
    token = reply_token(7, 1)
    assert parse_reply_address(f"support+{token}@evil.example") is None
    assert parse_reply_address("support@example.com") is None


def test_rotated_secret_keys_still_verify(settings: object) -> None:
    token = reply_token(9, 3)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]  # type: ignore[attr-defined]
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789abcdef"  # type: ignore[attr-defined]
    assert parse_reply_address(f"support+{token}@example.com") == ReplyToken(9, 3)

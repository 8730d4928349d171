"""Where a reply ends, on mails shaped like what real clients send: Gmail,
Outlook (desktop, web, HTML-only), Apple Mail, Thunderbird, Yahoo, Mail.ru
and Yandex, in twenty languages; bottom posts, interleaved answers,
forwards and signatures. Each NAME.eml sits beside NAME.expected, the new
text the ticket must show (the rest is folded away as quoted history)."""

from __future__ import annotations

import pytest

from mailgateway.prepare import prepare
from tests.mailgateway.conftest import FIXTURES

QUOTES = FIXTURES / "real" / "quotes"
ALL = sorted(p.stem for p in QUOTES.glob("*.eml"))


def test_the_corpus_is_there() -> None:
    assert len(ALL) >= 80


@pytest.mark.parametrize("name", ALL)
def test_it_keeps_only_the_new_text(name: str) -> None:
    prepared = prepare((QUOTES / f"{name}.eml").read_bytes())
    expected = (QUOTES / f"{name}.expected").read_text(encoding="utf-8").strip()
    assert prepared.new_text == expected
    if expected != prepared.text.strip():
        # What was folded is kept, and the rule that cut is named.
        assert prepared.quoted and prepared.quote_rule


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith("forward_")])
def test_a_forward_shows_the_original_sender(name: str) -> None:
    prepared = prepare((QUOTES / f"{name}.eml").read_bytes())
    assert "carla@cliente.com.br" in prepared.new_text

"""Where a reply ends, on mails shaped like what real clients send: Gmail,
Outlook (desktop, web, HTML-only), Apple Mail, Thunderbird, Yahoo, Mail.ru
and Yandex, in twenty languages; bottom posts, interleaved answers,
forwards and signatures. Each NAME.eml sits beside NAME.expected, the new
text the ticket must show (the rest is folded away as quoted history)."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.models import User
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from mailgateway.prepare import prepare
from mailgateway.quotes import cut_at_sent, split_quoted
from tests.mailgateway.conftest import FIXTURES, make_mail
from tests.mailgateway.test_fixtures import OUR_ID, open_ticket
from tickets import services
from tickets.models import Ticket

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


SENT = "Por favor, reinicie o roteador e nos diga se resolveu.\n\nAtt,\nSuporte"


def test_text_that_repeats_what_we_sent_is_history() -> None:
    text = f"Resolveu, obrigada!\n\nSuporte escreveu em 01/12:\n{SENT}"
    cut = cut_at_sent(text, [SENT])
    assert cut is not None
    assert (cut.new, cut.rule) == ("Resolveu, obrigada!", "matches what we sent")
    assert cut.quoted.startswith("Suporte escreveu em 01/12:")


def test_a_short_or_unrepeated_line_of_ours_cuts_nothing() -> None:
    assert cut_at_sent("Olá,\nObrigado", ["Olá,\nObrigado"]) is None
    assert cut_at_sent("Resolveu.", [SENT]) is None
    assert cut_at_sent(SENT, [SENT]) is None  # nothing new above it


@pytest.mark.django_db
def test_a_reply_quoting_our_text_without_a_marker_keeps_only_the_new_text() -> None:
    ticket = open_ticket("carla@cliente.com.br")
    agent = User.objects.create_user(email="ana@example.com", password="x", role="agent")
    services.ticket_reply_add(ticket=ticket, author=agent, body=SENT)
    raw = make_mail(
        subject="Re: [HD-2026-0001] Chamado",
        body=f"Resolveu, obrigada!\n\n{SENT}\n",
        headers={"In-Reply-To": OUR_ID},
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "replied"
    reply = ticket.messages.order_by("id").last()
    assert reply is not None and reply.body == "Resolveu, obrigada!"
    assert InboundMessage.objects.get(pk=result.inbound_id).verdict["quotes"] == (
        "matches what we sent"
    )


FORWARD = (
    "FYI\n\n---------- Forwarded message ---------\nFrom: Carla Dias <carla@cliente.com.br>\n"
    "Date: Mon, Jan 2, 2023 at 8:10 AM\nSubject: Portal\nTo: Ana <ana@support.example>\n\n"
    "Não consigo acessar o portal.\n"
)


@pytest.mark.django_db
def test_a_verified_agents_forward_opens_the_ticket_for_the_original_sender(
    agent: Any, settings: Any
) -> None:
    settings.HELPDESK_AUTHSERV_ID = "mx.example.com"
    raw = make_mail(
        sender=agent.email,
        subject="Fwd: Portal",
        body=FORWARD,
        headers={
            "Authentication-Results": "mx.example.com; dmarc=pass header.from=support.example"
        },
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.created_by.email == "carla@cliente.com.br"
    assert "carla@cliente.com.br" in ticket.messages.get().body
    assert InboundMessage.objects.get(pk=result.inbound_id).verdict["forwarded_for"] == (
        "carla@cliente.com.br"
    )


@pytest.mark.django_db
def test_a_customers_forward_stays_the_customers() -> None:
    raw = make_mail(sender="Rui <rui@outro.com.br>", subject="Fwd: Portal", body=FORWARD)
    result = ingest_raw_email(raw, door="pipe")
    assert Ticket.objects.get(reference=result.reference).created_by.email == "rui@outro.com.br"


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Please restart it.\n\nOn Monday, Support wrote:\n> x", "Please restart it."),
        ("Em anexo o arquivo\nEm seg., Ana escreveu:\n> x", "Em anexo o arquivo"),
    ],
)
def test_a_classic_attribution_needs_no_date(text: str, new: str) -> None:
    assert split_quoted(text)[0] == new

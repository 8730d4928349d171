"""Mail filters through the real ingest path: the example plugin's domain
rules, and filters that drop, quarantine, crash or hit a database failure."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import translation

from helpdesk.models import User
from mailgateway import batch, store
from mailgateway.batch import ingest_raw_emails
from mailgateway.errors import InboundError
from mailgateway.filters import FilterResult, IncomingMail
from mailgateway.ingest import ingest_raw_email, reprocess
from mailgateway.models import InboundMessage
from tests.mailgateway.conftest import make_mail
from tests.mailgateway.test_pipe import run
from tests.mailgateway.test_smtp import _listener, send
from tickets.models import Team, Ticket
from tickets.routing import routed_by_label

AddFilter = Callable[[str, Callable[[IncomingMail], FilterResult | None]], None]


def tags(ticket: Ticket) -> list[str]:
    return sorted(ticket.tags.values_list("name", flat=True))


@pytest.mark.django_db(transaction=True)
def test_it_routes_mail_from_the_domain_to_the_team_and_tags_it_over_smtp(
    domain_rules: str, billing: Team
) -> None:
    for server in _listener(lmtp=False):
        send(server, make_mail(sender="Bia <bia@acme.com>", subject="Fatura em dobro"))
        send(server, make_mail(sender="Eva <eva@eu.acme.com>", subject="Nota fiscal"))
        send(server, make_mail(sender="Carla <carla@cliente.com.br>", subject="Outra coisa"))
    by_sender = {t.created_by.email: t for t in Ticket.objects.select_related("created_by")}
    for email in ("bia@acme.com", "eva@eu.acme.com"):
        ticket = by_sender[email]
        assert ticket.team == billing
        assert tags(ticket) == ["acme"]
        assert ticket.routed_by == "filter:domain_routing"
    other = by_sender["carla@cliente.com.br"]
    assert other.team is None and tags(other) == []
    row = InboundMessage.objects.get(from_address="bia@acme.com")
    assert row.outcome == "created"
    assert row.verdict["filters"] == {
        "action": "keep",
        "trail": [
            {"filter": "domain_routing", "action": "keep", "reason": "sender domain acme.com"}
        ],
        "tags": ["acme"],
        "team": "Billing",
    }
    assert "filters" not in InboundMessage.objects.get(from_address="carla@cliente.com.br").verdict


def test_the_routed_by_label_names_the_filter_or_the_plugin(db: Any) -> None:
    assert routed_by_label("filter:domain_routing") == "filtro de e-mail “domain_routing”"
    assert routed_by_label("plugin:domain_routing") == "regra do plugin “domain_routing”"
    with translation.override("en"):
        assert routed_by_label("filter:domain_routing") == "mail filter “domain_routing”"


def test_a_reply_from_the_domain_tags_the_ticket_it_joins(
    domain_rules: str, billing: Team, settings: Any
) -> None:
    settings.DOMAIN_ROUTING = ""
    first = ingest_raw_email(make_mail(sender="bia@acme.com", subject="Pedido"), door="pipe")
    ticket = Ticket.objects.get(reference=first.reference)
    assert tags(ticket) == []
    settings.DOMAIN_ROUTING = "acme.com=Billing:acme"
    reply = ingest_raw_email(
        make_mail(sender="bia@acme.com", subject=f"Re: [{ticket.reference}] Pedido"), door="pipe"
    )
    assert reply.outcome == "replied" and reply.reference == ticket.reference
    ticket.refresh_from_db()
    # A reply's hints tag the ticket; its team was decided when it opened.
    assert tags(ticket) == ["acme"] and ticket.team is None


def test_a_filter_drops_a_sender_after_storing_the_raw_mail(
    domain_rules: str, _mail_settings: Path
) -> None:
    raw = make_mail(sender="Promo <promo@spam.example>", subject="Ganhe já")
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "discarded" and result.reference is None
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.outcome == InboundMessage.Outcome.DISCARDED
    assert row.ticket is None and row.processed_at is not None
    assert row.from_address == "promo@spam.example"
    assert row.verdict["filters"]["trail"] == [
        {
            "filter": "domain_routing",
            "action": "drop",
            "reason": "sender domain spam.example is dropped",
        }
    ]
    assert store.read_raw(row.raw_path) == raw  # the exact bytes, kept
    assert Ticket.objects.count() == 0
    assert not User.objects.filter(email="promo@spam.example").exists()  # no account either
    # The same mail again is a duplicate of the discarded row: still no ticket.
    assert ingest_raw_email(raw, door="smtp").outcome == "duplicate"
    assert Ticket.objects.count() == 0


def test_the_batch_path_drops_and_routes_mail_alike(
    domain_rules: str, billing: Team, tmp_path: Path
) -> None:
    mails = [
        make_mail(sender="promo@spam.example", subject="Oferta"),
        make_mail(sender="bia@acme.com", subject="Boleto"),
        make_mail(sender="carla@cliente.com.br", subject="Dúvida"),
    ]
    try:
        results = ingest_raw_emails(mails, door="pipe")
    finally:
        batch._drop_workers()  # forked with this test's settings: not for the next
    outcomes = [r.outcome for r in results]  # type: ignore[union-attr]
    assert outcomes == ["discarded", "created", "created"]
    assert InboundMessage.objects.filter(outcome="discarded").count() == 1
    acme = Ticket.objects.get(created_by__email="bia@acme.com")
    assert acme.team == billing and tags(acme) == ["acme"]


def test_a_crashing_filter_loses_no_mail_and_the_other_filters_still_count(
    domain_rules: str, billing: Team, extra_filter: AddFilter, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(incoming: IncomingMail) -> FilterResult | None:
        raise RuntimeError("scoring service misconfigured")

    extra_filter("spam_score", crash)
    with caplog.at_level(logging.ERROR, logger="mailgateway.filters"):
        result = ingest_raw_email(make_mail(sender="bia@acme.com"), door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.team == billing and tags(ticket) == ["acme"]
    trail = InboundMessage.objects.get(pk=result.inbound_id).verdict["filters"]["trail"]
    assert {"filter": "spam_score", "action": "error"}.items() <= trail[-1].items()
    assert trail[-1]["reason"] == "RuntimeError: scoring service misconfigured"
    assert "mail filter spam_score failed" in caplog.text


def test_a_filter_hitting_a_database_failure_defers_the_mail_and_the_retry_takes_it(
    transactional_db: Any, extra_filter: AddFilter, _mail_settings: Path
) -> None:
    down = {"now": True}

    def flaky(incoming: IncomingMail) -> FilterResult | None:
        if down["now"]:
            raise OperationalError("server closed the connection unexpectedly")
        return None

    extra_filter("flaky", flaky)
    raw = make_mail(sender="carla@cliente.com.br")
    for server in _listener(lmtp=False):
        with pytest.raises(smtplib.SMTPDataError) as error:
            send(server, raw)
        assert error.value.smtp_code == 451  # the sending MTA keeps it and retries
        # The listener's group commit rolls the whole batch back on a database
        # failure (nothing half-written: no row, its raw file removed); the
        # MTA still holds the mail.
        assert InboundMessage.objects.exclude(outcome="pending").count() == 0
        assert Ticket.objects.count() == 0
        down["now"] = False
        assert send(server, raw) == {}
    row = InboundMessage.objects.exclude(outcome="duplicate").get()
    assert row.outcome == "created" and Ticket.objects.count() == 1
    assert b"Subject: Impressora parada" in store.read_raw(row.raw_path)


def test_on_the_pipe_door_a_database_failure_in_a_filter_is_a_temporary_failure(
    db: Any, extra_filter: AddFilter
) -> None:
    def down(incoming: IncomingMail) -> FilterResult | None:
        raise OperationalError("database is locked")

    extra_filter("down", down)
    with pytest.raises(InboundError):
        ingest_raw_email(make_mail(), door="pipe")
    assert InboundMessage.objects.get().outcome == "pending"


def test_a_filter_quarantines_with_its_reason_and_a_reprocess_runs_the_filters_again(
    db: Any, extra_filter: AddFilter
) -> None:
    held = {"on": True}

    def hold_invoices(incoming: IncomingMail) -> FilterResult | None:
        if held["on"] and "fatura" in incoming.mail.subject.casefold():
            return FilterResult.quarantine("possible phishing: invoice from a new sender")
        return None

    extra_filter("phishing", hold_invoices)
    result = ingest_raw_email(make_mail(subject="Sua fatura venceu"), door="pipe")
    assert result.outcome == "quarantined"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.error == (
        "held by mail filter phishing: possible phishing: invoice from a new sender"
    )
    assert row.traceback == "" and Ticket.objects.count() == 0
    held["on"] = False
    assert reprocess(row).outcome == "created"


def test_hints_for_a_category_and_a_priority_and_an_unknown_team(
    db: Any, extra_filter: AddFilter, category: Any
) -> None:
    def vip(incoming: IncomingMail) -> FilterResult | None:
        return FilterResult.keep(
            team="No such team", category=category.name, priority="urgent", tags=("vip", "VIP")
        )

    extra_filter("vip", vip)
    result = ingest_raw_email(make_mail(), door="pipe")
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.priority == "urgent" and ticket.category == category
    assert ticket.team == category.default_team and ticket.routed_by == "category"
    assert tags(ticket) == ["vip"]
    verdict = InboundMessage.objects.get(pk=result.inbound_id).verdict["filters"]
    assert verdict["unknown"] == ["team 'No such team'"]


def test_a_filter_sees_how_the_mail_came(db: Any, extra_filter: AddFilter) -> None:
    seen: list[IncomingMail] = []

    def watch(incoming: IncomingMail) -> FilterResult | None:
        seen.append(incoming)
        return None

    extra_filter("watch", watch)
    ingest_raw_email(
        make_mail(sender="Bia <Bia@Acme.com>"),
        door="smtp",
        envelope_from="bounces@acme.com",
        envelope_rcpts=["support@example.com"],
    )
    (incoming,) = seen
    assert (incoming.sender, incoming.sender_domain, incoming.kind, incoming.door) == (
        "bia@acme.com",
        "acme.com",
        "person",
        "smtp",
    )
    assert incoming.envelope_rcpts == ("support@example.com",)
    assert incoming.envelope_from == "bounces@acme.com"


@pytest.mark.django_db(transaction=True)
def test_the_pipe_command_of_a_deployment_with_the_plugin_reports_the_drop(
    tmp_path: Path, _mail_settings: Path, billing: Team
) -> None:
    dropped, routed = tmp_path / "promo.eml", tmp_path / "bia.eml"
    dropped.write_bytes(make_mail(sender="promo@spam.example", subject="Oferta"))
    routed.write_bytes(make_mail(sender="bia@acme.com", subject="Boleto"))
    proc = run(
        [str(dropped), str(routed)],
        _mail_settings,
        # The production settings, configured the way the plugin's README says.
        DJANGO_SETTINGS_MODULE="config.settings",
        HELPDESK_PLUGINS="plugins.domain_routing",
        DOMAIN_ROUTING="acme.com=Billing:acme,spam.example=drop",
    )
    assert proc.returncode == 0, proc.stderr
    ticket = Ticket.objects.get()
    assert proc.stdout.decode().splitlines() == [
        f"{dropped} discarded -",
        f"{routed} created {ticket.reference}",
    ]
    assert ticket.team == billing and tags(ticket) == ["acme"]

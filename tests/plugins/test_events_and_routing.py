"""Ticket-event subscribers (after commit by default, or in the transaction)
and plugin routing rules, through the real services and ingest path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from mailgateway.ingest import ingest_raw_email, reprocess
from mailgateway.models import InboundMessage
from tests.conftest import PASSWORD
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.events import TicketChanged
from tickets.models import RoutingRule, Team, Ticket
from tickets.routing import Arrival, Route


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_is_called_after_the_commit_with_the_committed_ticket(
    extra_subscriber: Callable[..., None],
) -> None:
    calls: list[dict[str, Any]] = []

    def listen(changes: Sequence[TicketChanged]) -> None:
        created = [c for c in changes if c.kind == "created"]
        if created:
            calls.append(
                {
                    "in_transaction": connection.in_atomic_block,
                    # Visible to everyone, since it is committed.
                    "stored": Ticket.objects.filter(pk=created[0].ticket.pk).exists(),
                    "reference": created[0].ticket.reference,
                }
            )

    extra_subscriber("audit_log", listen)
    result = ingest_raw_email(make_mail(), door="pipe")
    assert calls == [{"in_transaction": False, "stored": True, "reference": result.reference}]


def test_a_subscriber_waits_for_the_commit_and_hears_nothing_of_a_rollback(
    customer: Any, extra_subscriber: Callable[..., None], django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[str] = []
    extra_subscriber("kinds", lambda changes: heard.extend(c.kind for c in changes))
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_create(requester=customer, subject="Wi-Fi caiu", body="Sem rede.")
        assert heard == []  # still inside the transaction
    assert heard == ["created"]

    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.ticket_create(requester=customer, subject="Desfeito", body="…")
                raise RuntimeError("the caller gives up")
        except RuntimeError:
            pass
    assert heard == []


@pytest.mark.django_db(transaction=True)
def test_a_crashing_subscriber_after_commit_changes_nothing(
    extra_subscriber: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    def crash(changes: Sequence[TicketChanged]) -> None:
        raise ValueError("the CRM is down")

    extra_subscriber("crm_sync", crash)
    with caplog.at_level(logging.ERROR, logger="helpdesk.plugins"):
        result = ingest_raw_email(make_mail(), door="pipe")
    assert result.outcome == "created"
    assert Ticket.objects.filter(reference=result.reference).exists()
    assert "ticket subscriber crm_sync failed" in caplog.text


def test_a_crashing_subscriber_in_the_transaction_quarantines_the_mail_which_stays_safe(
    db: Any, extra_subscriber: Callable[..., None]
) -> None:
    broken = {"now": True}

    def strict(changes: Sequence[TicketChanged]) -> None:
        if broken["now"]:
            raise ValueError("a counter row is missing")

    extra_subscriber("counters", strict, in_transaction=True)
    result = ingest_raw_email(make_mail(), door="pipe")
    assert result.outcome == "quarantined" and Ticket.objects.count() == 0
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.error == "ValueError: a counter row is missing" and row.raw_path
    broken["now"] = False  # the plugin fixed: the admin re-processes it
    assert reprocess(row).outcome == "created"


@pytest.mark.django_db(transaction=True)
def test_the_example_plugin_remembers_each_domains_last_ticket_after_commit(
    domain_rules: str, billing: Team, agent: Any
) -> None:
    cache.clear()
    result = ingest_raw_email(make_mail(sender="bia@acme.com"), door="pipe")
    client = Client()
    client.login(email=agent.email, password=PASSWORD)
    page = client.get(reverse("domain_routing:index")).content.decode()
    assert f'href="/tickets/{result.reference}/"' in page


def test_a_plugin_rule_routes_web_tickets_after_the_admins_rules(
    domain_rules: str, billing: Team
) -> None:
    bia = user_create(email="bia@acme.com", full_name="Bia", role=Role.CUSTOMER)
    ticket = services.ticket_create(requester=bia, subject="Segunda via", body="Do boleto.")
    assert ticket.team == billing and ticket.routed_by == "plugin:domain_routing"
    assert list(ticket.tags.all()) == []  # tags come with mail (the filter), not with rules

    sales = Team.objects.create(name="Vendas")
    RoutingRule.objects.create(
        name="acme comercial", position=1, match="sender_domain", value="acme.com", team=sales
    )
    second = services.ticket_create(requester=bia, subject="Proposta", body="Nova.")
    assert second.team == sales and second.routed_by == "rule:acme comercial"


def test_a_crashing_routing_rule_is_skipped_and_the_next_one_routes(
    db: Any,
    customer: Any,
    extra_rule: Callable[[str, Callable[[Arrival], Route | None]], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    vip = Team.objects.create(name="VIP")

    def crash(arrival: Arrival) -> Route | None:
        raise KeyError("tier")

    extra_rule("tiers", crash)
    extra_rule(
        "vip", lambda arrival: Route(team=vip) if "urgente" in arrival.subject.casefold() else None
    )
    with caplog.at_level(logging.ERROR, logger="tickets.routing"):
        ticket = services.ticket_create(requester=customer, subject="Urgente: caiu", body="…")
    assert ticket.team == vip and ticket.routed_by == "plugin:vip"
    assert "routing rule tiers failed" in caplog.text
    other = services.ticket_create(requester=customer, subject="Dúvida", body="…")
    assert other.team is None and other.routed_by == ""

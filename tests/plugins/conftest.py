"""The example plugin (plugins.domain_routing) is installed for the whole test
run by tests/settings.py through HELPDESK_PLUGINS, inert while DOMAIN_ROUTING
is empty; these fixtures give it rules, and register the extra filters,
rules and subscribers a test needs (removed again afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from helpdesk import plugins
from mailgateway import filters
from tickets import routing
from tickets.models import Team

RULES = "acme.com=Billing:acme,spam.example=drop"


@pytest.fixture(autouse=True)
def _mail_settings(settings: Any, tmp_path: Path) -> Path:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    settings.HELPDESK_AUTHSERV_ID = ""
    cache.clear()  # the plugin remembers each domain's last ticket there
    return tmp_path / "raw"


@pytest.fixture
def domain_rules(settings: Any, db: Any) -> str:
    settings.DOMAIN_ROUTING = RULES
    return RULES


@pytest.fixture
def billing(db: Any) -> Team:
    return Team.objects.create(name="Billing")


@pytest.fixture
def extra_filter() -> Iterator[Callable[[str, filters.MailFilter], None]]:
    names: list[str] = []

    def add(name: str, function: filters.MailFilter) -> None:
        names.append(name)
        plugins.add_mail_filter(name, function)

    yield add
    for name in names:
        filters.remove_filter(name)


@pytest.fixture
def extra_rule() -> Iterator[Callable[[str, routing.RoutingRuleFunction], None]]:
    names: list[str] = []

    def add(name: str, rule: routing.RoutingRuleFunction) -> None:
        names.append(name)
        plugins.add_routing_rule(name, rule)

    yield add
    for name in names:
        routing.remove_rule(name)


@pytest.fixture
def extra_subscriber() -> Iterator[Callable[..., None]]:
    names: list[str] = []

    def add(name: str, subscriber: plugins.Subscriber, **kwargs: Any) -> None:
        names.append(name)
        plugins.on_ticket_changed(name, subscriber, **kwargs)

    yield add
    for name in names:
        plugins.remove_ticket_subscriber(name)

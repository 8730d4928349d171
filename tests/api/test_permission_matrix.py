"""Every API route x every method x every kind of caller.

EXPECTED names every URL pattern of helpdesk.api.urls and the schema and
docs routes; a new route missing from it fails test_it_covers_every_route:
add its row (and think about who may reach it) when you add the route.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from helpdesk.api import urls as api_urls
from tests.api.conftest import expired_client, revoked_client, token_client
from tickets.models import Ticket

ACTORS = ("anon", "owner", "stranger", "agent", "manager", "admin", "revoked", "expired")
SIGNED_IN = ("owner", "stranger", "agent", "manager", "admin")
STAFF = ("agent", "manager", "admin")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
UNAUTHENTICATED = {"anon": 401, "revoked": 401, "expired": 401}


def everyone(status: int) -> dict[str, int]:
    return {**UNAUTHENTICATED, **dict.fromkeys(SIGNED_IN, status)}


def on_the_ticket(owner: int, staff: int) -> dict[str, int]:
    """The owner's answer, a stranger's 404 (it looks missing), staff's."""
    return {**UNAUTHENTICATED, "owner": owner, "stranger": 404, **dict.fromkeys(STAFF, staff)}


def staff_only(status: int) -> dict[str, int]:
    return {**UNAUTHENTICATED, "owner": 403, "stranger": 403, **dict.fromkeys(STAFF, status)}


NOT_ALLOWED = everyone(405)
PUBLIC = {**dict.fromkeys(ACTORS, 200), "revoked": 401, "expired": 401}
NEW_TICKET = {"subject": "Pelo API", "body": "Olá"}

# (url name, method) -> (request data, {actor: status})
EXPECTED: dict[tuple[str, str], tuple[dict[str, Any], dict[str, int]]] = {
    ("api:root", "GET"): ({}, everyone(200)),
    ("api:ticket-list", "GET"): ({}, everyone(200)),
    ("api:ticket-list", "POST"): (NEW_TICKET, everyone(201)),
    ("api:ticket-detail", "GET"): ({}, on_the_ticket(200, 200)),
    ("api:ticket-detail", "PATCH"): ({"priority": "high"}, on_the_ticket(403, 200)),
    ("api:ticket-messages", "GET"): ({}, on_the_ticket(200, 200)),
    ("api:ticket-messages", "POST"): ({"body": "Mais um detalhe"}, on_the_ticket(201, 201)),
    ("api:category-list", "GET"): ({}, everyone(200)),
    ("api:team-list", "GET"): ({}, everyone(200)),
    ("api:me", "GET"): ({}, everyone(200)),
    ("api:user-list", "GET"): ({}, staff_only(200)),
    ("api_schema", "GET"): ({}, PUBLIC),
    ("api_docs", "GET"): ({}, PUBLIC),
}
DOCS = {"api_schema", "api_docs"}


def refused(name: str) -> dict[str, int]:
    """A method the route does not take: 405 once the caller is known (and,
    for a staff-only route, allowed in)."""
    if name in DOCS:
        return {**dict.fromkeys(ACTORS, 405), "revoked": 401, "expired": 401}
    if name == "api:user-list":
        return staff_only(405)
    return everyone(405)


for _name in {name for name, _method in EXPECTED}:
    for _method in METHODS:
        EXPECTED.setdefault((_name, _method), ({}, refused(_name)))


def test_it_covers_every_route() -> None:
    names = {f"api:{p.name}" for p in api_urls.urlpatterns if isinstance(p, URLPattern)}
    names |= DOCS
    assert {(n, m) for n in names for m in METHODS} == set(EXPECTED)


@pytest.fixture
def clients(
    customer: Any, other_customer: Any, agent: Any, manager: Any, admin_user: Any
) -> dict[str, Client]:
    return {
        "anon": Client(),
        "owner": token_client(customer),
        "stranger": token_client(other_customer),
        "agent": token_client(agent),
        "manager": token_client(manager),
        "admin": token_client(admin_user),
        "revoked": revoked_client(customer),
        "expired": expired_client(customer),
    }


def url_of(name: str, ticket: Ticket) -> str:
    if name in {"api:ticket-detail", "api:ticket-messages"}:
        return reverse(name, kwargs={"reference": ticket.reference})
    return reverse(name)


@pytest.mark.parametrize(("name", "method"), sorted(EXPECTED))
def test_each_caller_gets_what_the_table_says(
    name: str, method: str, clients: dict[str, Client], ticket: Ticket
) -> None:
    data, expected = EXPECTED[(name, method)]
    url = url_of(name, ticket)
    got = {}
    for actor in ACTORS:
        response = clients[actor].generic(
            method,
            url,
            data=json.dumps(data) if data else "",
            content_type="application/json",
        )
        got[actor] = response.status_code
    assert got == expected

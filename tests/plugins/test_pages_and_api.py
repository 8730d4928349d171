"""The example plugin's page, navigation entry and API route: who sees them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from helpdesk import plugins
from mailgateway.ingest import ingest_raw_email
from tests.api.conftest import token_client
from tests.conftest import PASSWORD
from tests.mailgateway.conftest import make_mail
from tickets.models import Team

PAGE = "/plugins/domain_routing/"
API = "/api/v1/plugins/domain_routing/rules/"


def signed_in(user: Any) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_the_routes_are_where_the_readme_says(db: Any) -> None:
    assert reverse("domain_routing:index") == PAGE
    assert reverse("api:domain_routing:rules") == API


@pytest.mark.parametrize("role", ["agent", "manager", "admin_user"])
def test_staff_see_the_page_and_its_nav_entry(
    role: str, request: pytest.FixtureRequest, domain_rules: str, billing: Team
) -> None:
    client = signed_in(request.getfixturevalue(role))
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<code>acme.com</code>" in html and "<code>spam.example</code>" in html
    assert f'class="nav-link active" aria-current="page" href="{PAGE}">' in html
    home = client.get(reverse("home")).content.decode()
    assert f'href="{PAGE}">Roteamento por domínio</a>' in home


def test_customers_get_neither_the_page_nor_the_nav_entry(customer: Any) -> None:
    client = signed_in(customer)
    assert client.get(PAGE).status_code == 403
    assert PAGE not in client.get(reverse("home")).content.decode()


def test_anonymous_visitors_are_sent_to_log_in(db: Any) -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_counts_the_tags_open_tickets_in_a_fixed_number_of_queries(
    settings: Any, agent: Any, billing: Team, django_assert_num_queries: Any
) -> None:
    settings.DOMAIN_ROUTING = "acme.com=Billing:acme,beta.org=Nobody:beta,spam.example=drop"
    for sender in ("bia@acme.com", "eva@acme.com", "rui@beta.org"):
        ingest_raw_email(make_mail(sender=sender), door="pipe")
    client = signed_in(agent)
    client.get(PAGE)  # the session's first-read work out of the count
    # Session, user, the page's two (teams, tag counts), the header's unread count.
    with django_assert_num_queries(5):
        html = client.get(PAGE).content.decode()
    acme_row = html[html.index("<code>acme.com</code>") : html.index("<code>beta.org</code>")]
    assert '<td class="text-end">2</td>' in acme_row
    beta_row = html[html.index("<code>beta.org</code>") : html.index("<code>spam.example</code>")]
    assert "equipe inexistente" in beta_row and '<td class="text-end">1</td>' in beta_row


def test_the_api_route_answers_staff_with_a_token(
    domain_rules: str, billing: Team, agent: Any, customer: Any
) -> None:
    ingest_raw_email(make_mail(sender="bia@acme.com"), door="pipe")
    response = token_client(agent).get(API)
    assert response.status_code == 200
    assert response.json() == [
        {
            "domain": "acme.com",
            "action": "route",
            "team": "Billing",
            "team_exists": True,
            "tag": "acme",
            "open_tickets": 1,
            "last_reference": "",  # remembered after commit: none in this test's transaction
        },
        {
            "domain": "spam.example",
            "action": "drop",
            "team": "",
            "team_exists": False,
            "tag": "",
            "open_tickets": 0,
            "last_reference": "",
        },
    ]
    assert token_client(customer).get(API).status_code == 403
    assert Client().get(API).status_code == 401
    assert token_client(agent).post(API, {}, content_type="application/json").status_code == 405


def test_the_api_schema_documents_the_plugin_route(db: Any) -> None:
    schema = Client().get(reverse("api_schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert API.removeprefix("/api") in schema.content.decode() or API in schema.content.decode()


def test_a_nav_entry_shows_only_to_the_roles_it_names(
    agent: Any, manager: Any, customer: Any
) -> None:
    plugins.add_nav_item(
        "test_managers_only",
        label="Só gerentes",
        url_name="domain_routing:index",
        roles={"manager"},
    )
    try:
        factory = RequestFactory()
        seen = {}
        for user in (agent, manager, customer):
            request = factory.get("/")
            request.user = user
            seen[user.role] = [str(i.label) for i in plugins.nav_items(request)]
    finally:
        plugins.remove_nav_item("test_managers_only")
    assert seen == {
        "agent": ["Roteamento por domínio"],
        "manager": ["Roteamento por domínio", "Só gerentes"],
        "customer": [],
    }

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.models import SavedView
from tickets import services
from tickets.models import Category, Team, Ticket
from tickets.states import Status

pytestmark = pytest.mark.django_db


def make_tickets(requester: Any, n: int, **kwargs: Any) -> list[Ticket]:
    return [
        services.ticket_create(
            requester=requester, subject=f"Assunto {i:03d}", body=f"corpo {i}", **kwargs
        )
        for i in range(n)
    ]


def refs(response: Any) -> list[str]:
    import re

    return re.findall(r'data-ticket="(HD-\d{4}-\d+)"', response.content.decode())


def test_customers_see_only_their_own_tickets(
    customer: Any, other_customer: Any, customer_client: Client
) -> None:
    mine = make_tickets(customer, 2)
    theirs = make_tickets(other_customer, 2)
    shown = refs(customer_client.get("/tickets/"))
    assert sorted(shown) == sorted(t.reference for t in mine)
    assert not set(shown) & {t.reference for t in theirs}
    # Staff-only filters do not widen a customer's list either.
    shown = refs(customer_client.get(f"/tickets/?requester={other_customer.email}&assignee=none"))
    assert not set(shown) & {t.reference for t in theirs}


def test_filters(
    customer: Any, other_customer: Any, agent: Any, agent_client: Client, category: Category
) -> None:
    a, b, c = make_tickets(customer, 3, category=category)
    services.ticket_priority_set(ticket=b, priority="urgent", actor=agent)
    services.ticket_transition(ticket=c, to=Status.WAITING_CUSTOMER, actor=agent)
    services.ticket_assign(ticket=a, assignee=agent, actor=agent)
    d = services.ticket_create(requester=other_customer, subject="Outro", body="x")
    assert refs(agent_client.get("/tickets/?priority=urgent")) == [b.reference]
    assert refs(agent_client.get("/tickets/?status=waiting_customer")) == [c.reference]
    assert (
        set(refs(agent_client.get("/tickets/?status=open&status=waiting_customer")))
        == {a.reference, b.reference, c.reference, d.reference} - set()
    )
    assert refs(agent_client.get("/tickets/?assignee=me")) == [a.reference]
    assert refs(agent_client.get(f"/tickets/?assignee={agent.pk}")) == [a.reference]
    assert set(refs(agent_client.get("/tickets/?assignee=none"))) == {
        b.reference,
        c.reference,
        d.reference,
    }
    assert refs(agent_client.get("/tickets/?mine=on")) == [a.reference]
    assert refs(agent_client.get(f"/tickets/?requester={other_customer.email.upper()}")) == [
        d.reference
    ]
    assert set(refs(agent_client.get(f"/tickets/?category={category.pk}"))) == {
        a.reference,
        b.reference,
        c.reference,
    }
    assert set(refs(agent_client.get(f"/tickets/?team={category.default_team.pk}"))) == {
        a.reference,
        b.reference,
        c.reference,
    }


def test_date_range_in_the_users_time_zone(customer: Any, agent_client: Client) -> None:
    old, new = make_tickets(customer, 2)
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=10))
    today = timezone.localdate()
    assert refs(agent_client.get(f"/tickets/?created_from={today.isoformat()}")) == [new.reference]
    until = (today - datetime.timedelta(days=5)).isoformat()
    assert refs(agent_client.get(f"/tickets/?created_to={until}")) == [old.reference]


def test_search_box(customer: Any, agent: Any, agent_client: Client) -> None:
    a, b = make_tickets(customer, 2)
    services.ticket_reply_add(ticket=b, author=customer, body="o orçamento do projeto")
    assert refs(agent_client.get("/tickets/?q=orçamento")) == [b.reference]
    assert refs(agent_client.get(f"/tickets/?q={a.reference}")) == [a.reference]


def test_a_search_matching_many_tickets_lists_the_newest_uncounted(
    customer: Any, agent: Any, agent_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above RANK_LIMIT matches the list is newest first, and counted only
    # once the last page is reached.
    monkeypatch.setattr("helpdesk.ticket_filters.RANK_LIMIT", 3)
    tickets = make_tickets(customer, 30)
    other = services.ticket_create(requester=customer, subject="Outro", body="nada a ver")
    services.ticket_reply_add(ticket=tickets[4], author=agent, body="corpo novo")
    newest_first = [tickets[4].reference] + [
        t.reference for t in reversed(tickets) if t != tickets[4]
    ]
    response = agent_client.get("/tickets/?q=corpo")
    page = response.content.decode()
    assert refs(response) == newest_first[:25]
    assert "Mais de 25 tickets encontrados" in page  # RANK_LIMIT is 3 here; a page holds 25
    assert "?q=corpo&amp;page=2" in page and ">Página 1<" in page
    assert "os atualizados mais recentemente vêm primeiro" in page
    last = agent_client.get("/tickets/?q=corpo&page=2")
    assert refs(last) == newest_first[25:]
    assert "30 tickets encontrados" in last.content.decode()
    assert "Página 2 de 2" in last.content.decode()
    # Past the end (an old link): the first page, as for a bad page number.
    assert refs(agent_client.get("/tickets/?q=corpo&page=9")) == newest_first[:25]
    assert refs(agent_client.get("/tickets/?q=corpo&page=x")) == newest_first[:25]
    assert other.reference not in refs(agent_client.get("/tickets/?q=corpo&per_page=100"))
    # An explicit sort still applies, and the few-matches search is ranked and counted.
    ascending = refs(agent_client.get("/tickets/?q=corpo&sort=subject"))
    assert ascending == sorted(newest_first)[:25]
    assert refs(agent_client.get("/tickets/?q=outro")) == [other.reference]
    assert "1 ticket encontrado" in agent_client.get("/tickets/?q=outro").content.decode()


def test_sorting_by_every_column_and_bad_sort_falls_back(
    customer: Any, agent_client: Client
) -> None:
    make_tickets(customer, 3)
    for key in (
        "reference",
        "subject",
        "status",
        "priority",
        "category",
        "team",
        "assignee",
        "requester",
        "created",
        "updated",
    ):
        for sort in (key, f"-{key}"):
            response = agent_client.get(f"/tickets/?sort={sort}")
            assert response.status_code == 200 and len(refs(response)) == 3
    asc = refs(agent_client.get("/tickets/?sort=subject"))
    assert asc == sorted(asc) and refs(agent_client.get("/tickets/?sort=-subject")) == asc[::-1]
    assert agent_client.get("/tickets/?sort=created_by__password").status_code == 200


def test_pagination_keeps_filters(customer: Any, agent_client: Client) -> None:
    make_tickets(customer, 30, priority="high")
    response = agent_client.get("/tickets/?priority=high&per_page=25")
    assert len(refs(response)) == 25
    page = response.content.decode()
    assert "?priority=high&amp;per_page=25&amp;page=2" in page
    assert len(refs(agent_client.get("/tickets/?priority=high&per_page=25&page=2"))) == 5
    assert len(refs(agent_client.get("/tickets/?page=999"))) == 5  # past the end: the last page


def test_htmx_gets_only_the_results_fragment(customer: Any, agent_client: Client) -> None:
    make_tickets(customer, 2)
    response = agent_client.get("/tickets/?status=open", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "filter-form" not in body and len(refs(response)) == 2
    assert 'hx-swap-oob="true"' in body
    assert "HX-Request" in response["Vary"]
    # The back button after htmx's history cache is gone wants the whole page.
    restore = agent_client.get(
        "/tickets/?status=open", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in restore.content.decode()


@pytest.mark.parametrize("count", [10, 100])
def test_constant_queries_whatever_the_page_size(
    customer: Any,
    agent: Any,
    agent_client: Client,
    category: Category,
    count: int,
    django_assert_max_num_queries: Any,
) -> None:
    team = category.default_team
    for t in make_tickets(customer, count, category=category):
        Ticket.objects.filter(pk=t.pk).update(assigned_to=agent, team=team)
    with django_assert_max_num_queries(16):
        response = agent_client.get("/tickets/?per_page=100&q=Assunto&status=open&sort=priority")
    assert len(refs(response)) == count
    with django_assert_max_num_queries(10):
        agent_client.get("/tickets/?per_page=100", HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(10):
        Client().get("/")  # warm nothing; anonymous redirect


def test_bulk_actions_report_per_ticket_errors(
    customer: Any, agent: Any, agent_client: Client
) -> None:
    a, b, c = make_tickets(customer, 3)
    services.ticket_transition(ticket=c, to=Status.CLOSED, actor=agent)
    response = agent_client.post(
        "/tickets/bulk/",
        {
            "action": "status",
            "status": "resolved",
            "tickets": [a.reference, b.reference, c.reference, "HD-1999-0001"],
            "next": "/tickets/?status=open",
        },
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/tickets/?status=open"
    page = response.content.decode()
    assert f"{c.reference}: não pode passar de Fechado para Resolvido" in page
    assert "1 ticket(s) não encontrado(s)." in page
    statuses = dict(Ticket.objects.values_list("reference", "status"))
    assert (
        statuses[a.reference] == statuses[b.reference] == "resolved"
        and statuses[c.reference] == "closed"
    )


def test_bulk_assign_priority_and_close(customer: Any, agent: Any, agent_client: Client) -> None:
    a, b = make_tickets(customer, 2)
    both = [a.reference, b.reference]
    agent_client.post("/tickets/bulk/", {"action": "assign", "assignee": agent.pk, "tickets": both})
    agent_client.post(
        "/tickets/bulk/", {"action": "priority", "priority": "urgent", "tickets": both}
    )
    agent_client.post("/tickets/bulk/", {"action": "close", "tickets": both})
    assert set(Ticket.objects.values_list("assigned_to", "priority", "status")) == {
        (agent.pk, "urgent", "closed")
    }


def test_bulk_next_cannot_redirect_off_site(customer: Any, agent_client: Client) -> None:
    (a,) = make_tickets(customer, 1)
    response = agent_client.post(
        "/tickets/bulk/",
        {"action": "close", "tickets": [a.reference], "next": "https://evil.example/"},
    )
    assert response["Location"] == "/tickets/"


def test_saved_views(
    customer: Any, agent: Any, manager: Any, agent_client: Client, customer_client: Client
) -> None:
    agent_client.post(
        "/tickets/views/",
        {"name": "Urgentes", "querystring": "priority=urgent&page=3&evil=1", "shared": "on"},
    )
    view = SavedView.objects.get()
    assert (view.owner, view.querystring, view.shared) == (agent, "priority=urgent", True)
    manager_client = Client()
    manager_client.force_login(manager)
    assert "Urgentes" in manager_client.get("/tickets/").content.decode()
    # Customers cannot share, and never see agents' shared views.
    customer_client.post(
        "/tickets/views/", {"name": "Minhas", "querystring": "status=open", "shared": "on"}
    )
    assert not SavedView.objects.get(name="Minhas").shared
    assert "Urgentes" not in customer_client.get("/tickets/").content.decode()
    # Only the owner deletes.
    assert manager_client.post(f"/tickets/views/{view.pk}/delete/").status_code == 404
    agent_client.post(f"/tickets/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_query_count_is_the_same_for_10_and_100_rows(
    customer: Any, agent: Any, agent_client: Client, category: Category
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            agent_client.get("/tickets/?per_page=100&sort=team")
        return len(ctx.captured_queries)

    for t in make_tickets(customer, 10, category=category):
        Ticket.objects.filter(pk=t.pk).update(assigned_to=agent)
    ten = count()
    for t in make_tickets(customer, 90, category=category):
        Ticket.objects.filter(pk=t.pk).update(assigned_to=agent)
    assert count() == ten


def test_restricted_agents_list_only_their_teams_tickets_in_any_order(
    customer: Any, agent: Any, agent_client: Client, category: Category, settings: Any
) -> None:
    settings.HELPDESK_AGENTS_SEE_ALL = False
    ours = make_tickets(customer, 2, category=category)  # the category routes to the agent's team
    other_team = Team.objects.create(name="Outra")
    theirs = make_tickets(customer, 2, team=other_team)
    for sort in ("priority", "-status", "assignee", "requester", "-updated"):
        shown = set(refs(agent_client.get(f"/tickets/?sort={sort}&q=Assunto")))
        assert shown == {t.reference for t in ours}, sort
    assert agent_client.get(f"/tickets/{theirs[0].reference}/").status_code == 404


def test_date_filters_render_back_as_iso_for_the_date_input(agent_client: Client) -> None:
    page = agent_client.get("/tickets/?created_from=2026-01-31").content.decode()
    assert 'name="created_from" value="2026-01-31"' in page

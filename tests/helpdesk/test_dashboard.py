from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk import dashboard
from tickets import services
from tickets.models import Ticket
from tickets.states import Status

pytestmark = pytest.mark.django_db


def test_customer_dashboard_shows_open_and_waiting(
    customer: Any, other_customer: Any, agent: Any, customer_client: Client
) -> None:
    a = services.ticket_create(requester=customer, subject="Aberto A", body="x")
    b = services.ticket_create(requester=customer, subject="Esperando B", body="x")
    services.ticket_transition(ticket=b, to=Status.WAITING_CUSTOMER, actor=agent)
    foreign = services.ticket_create(requester=other_customer, subject="Alheio", body="x")
    data = dashboard.customer_dashboard(customer)
    assert data["counts"]["open"] == 2 and data["counts"]["waiting"] == 1
    assert [t.reference for t in data["waiting"]] == [b.reference]
    page = customer_client.get("/").content.decode()
    assert a.reference in page and b.reference in page and foreign.reference not in page


def test_agent_queue_counts(customer: Any, agent: Any, manager: Any, team: Any) -> None:
    mine = services.ticket_create(requester=customer, subject="m", body="x", team=team)
    services.ticket_assign(ticket=mine, assignee=agent, actor=agent)
    waiting = services.ticket_create(requester=customer, subject="w", body="x")
    services.ticket_assign(ticket=waiting, assignee=agent, actor=agent)
    services.ticket_transition(ticket=waiting, to=Status.WAITING_CUSTOMER, actor=agent)
    services.ticket_create(requester=customer, subject="team queue", body="x", team=team)
    other = services.ticket_create(requester=customer, subject="someone else", body="x", team=team)
    services.ticket_assign(ticket=other, assignee=manager, actor=manager)
    data = dashboard.agent_dashboard(agent)
    assert data["counts"] == {
        "assigned": 2,
        "team_unassigned": 1,
        "waiting": 1,
        "all_active": 4,
        "sla_breached": 0,
        "sla_due_soon": 0,
    }
    assert len(data["recent"]) == 4


def test_manager_team_view(
    customer: Any, agent: Any, manager: Any, team: Any, manager_client: Client
) -> None:
    t = services.ticket_create(
        requester=customer, subject="a", body="x", team=team, priority="urgent"
    )
    services.ticket_create(requester=customer, subject="b", body="x")
    services.ticket_assign(ticket=t, assignee=agent, actor=manager)
    data = dashboard.manager_dashboard(manager)
    row = next(x for x in data["teams"] if x.pk == team.pk)
    assert (row.active, row.unassigned, row.urgent) == (1, 0, 1)
    assert next(a for a in data["agents"] if a.pk == agent.pk).active == 1
    assert data["totals"]["active"] == 2 and data["totals"]["no_team"] == 1
    page = manager_client.get("/").content.decode()
    assert team.name in page and agent.get_full_name() in page


@pytest.mark.parametrize("role_client", ["agent_client", "manager_client", "customer_client"])
def test_dashboard_queries_do_not_grow_with_tickets(
    request: Any, role_client: str, customer: Any, agent: Any, team: Any
) -> None:
    client = request.getfixturevalue(role_client)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    services.ticket_create(requester=customer, subject="first", body="x", team=team)
    few = count()
    for i in range(25):
        t = services.ticket_create(requester=customer, subject=f"t{i}", body="x", team=team)
        Ticket.objects.filter(pk=t.pk).update(assigned_to=agent)
    assert count() == few

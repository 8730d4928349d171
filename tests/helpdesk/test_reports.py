"""The reports dashboard and its CSV: who reaches them, what they show, in
both languages, and in how many queries."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from helpdesk.models import SatisfactionRating
from tests.helpdesk.conftest import client_for
from tickets import services
from tickets.models import Team, Ticket
from tickets.states import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(customer: Any, agent: Any, category: Any, team: Team) -> list[Ticket]:
    """Three tickets this week: one answered after 2 h and resolved after 5 h
    (rated 5), one by mail answered after 30 min, one still open."""
    now = timezone.now()
    made = []
    for number, source in enumerate(["web", "email", "web"]):
        ticket = services.ticket_create(
            requester=customer, subject=f"T{number}", body="b", category=category, source=source
        )
        services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
        made.append(ticket)
    services.ticket_reply_add(ticket=made[0], author=agent, body="a")
    services.ticket_transition(ticket=made[0], to=Status.RESOLVED, actor=agent)
    services.ticket_transition(ticket=made[0], to=Status.CLOSED, actor=agent)
    services.ticket_reply_add(ticket=made[1], author=agent, body="a")
    start = now - timedelta(days=1)
    Ticket.objects.filter(pk=made[0].pk).update(
        created_at=start,
        first_response_at=start + timedelta(hours=2),
        resolved_at=start + timedelta(hours=5),
        closed_at=start + timedelta(hours=6),
    )
    Ticket.objects.filter(pk=made[1].pk).update(
        created_at=start, first_response_at=start + timedelta(minutes=30)
    )
    Ticket.objects.filter(pk=made[2].pk).update(created_at=start)
    SatisfactionRating.objects.create(ticket=made[0], user=customer, score=5)
    return made


def test_it_is_for_managers_and_admins_only(
    manager: Any, admin_user: Any, agent: Any, customer: Any
) -> None:
    for user, status in [(manager, 200), (admin_user, 200), (agent, 404), (customer, 404)]:
        assert client_for(user).get("/reports/").status_code == status
        assert client_for(user).get("/reports/export.csv").status_code == status
    assert Client().get("/reports/").status_code == 302


def test_it_shows_the_numbers_in_english(manager: Any, week: list[Ticket]) -> None:
    manager.language = "en"
    manager.save()
    page = client_for(manager).get("/reports/?period=7").content.decode()
    assert re.search(r'data-metric="created">3<', page)
    assert re.search(r'data-metric="resolved">1<', page)
    assert re.search(r'data-metric="open">2<', page)
    assert re.search(r'data-metric="satisfaction">5.0<', page)
    # First responses 30 min and 2 h: the median is 1 h 15 min.
    assert re.search(r'data-metric="fr-median">1 h 15 min<', page)
    assert re.search(r'data-metric="res-median">5 h<', page)
    assert re.search(r'data-metric="channel-email">1<', page)
    assert "Created and resolved per day" in page and "Agent load" in page
    assert 'id="report-data" type="application/json"' in page


def test_it_shows_the_numbers_in_portuguese(manager: Any, week: list[Ticket]) -> None:
    page = client_for(manager).get("/reports/?period=7").content.decode()
    assert 'lang="pt-br"' in page
    assert "Relatórios" in page and "Satisfação dos clientes" in page
    assert re.search(r'data-metric="satisfaction">5,0<', page)  # the decimal comma
    assert re.search(r'data-metric="fr-median">1 h 15 min<', page)
    with translation.override("pt-br"):
        # The catalogue's words for the new strings (the locale owner adds them).
        for text in ["Created and resolved per day", "Agent load", "Open now"]:
            assert gettext(text) in page
        assert gettext("Last %(days)d days") % {"days": 7} in page
        assert pgettext("tickets", "Created") in page


def test_it_hands_the_charts_their_data_as_json(manager: Any, week: list[Ticket]) -> None:
    page = client_for(manager).get("/reports/?period=7").content.decode()
    raw = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)
    assert raw is not None
    data = json.loads(raw.group(1))
    assert len(data["days"]) == 7 and sum(data["created"]) == 3
    assert data["backlog"][-1] == 2
    assert data["categories"]["counts"] == [3]
    assert data["agents"]["labels"] == ["Ana Agente"] and data["agents"]["open"] == [2]


def test_it_filters_by_channel_and_team(
    manager: Any, week: list[Ticket], team: Team, customer: Any
) -> None:
    client = client_for(manager)
    page = client.get("/reports/?period=7&channel=email").content.decode()
    assert re.search(r'data-metric="created">1<', page)
    other = Team.objects.create(name="Outro")
    page = client.get(f"/reports/?period=7&team={other.pk}").content.decode()
    assert re.search(r'data-metric="created">0<', page)


def test_it_explains_bad_filters_and_falls_back_to_30_days(manager: Any) -> None:
    manager.language = "en"
    manager.save()
    page = client_for(manager).get("/reports/?start=2026-03-10&end=2026-03-01").content.decode()
    assert "The start date must not be after the end date." in page
    assert "Showing the last 30 days instead." in page


def test_it_exports_the_same_numbers_as_csv(manager: Any, week: list[Ticket]) -> None:
    response = client_for(manager).get("/reports/export.csv?period=7&channel=web")
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="reports-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "key", "metric", "value"]
    values = {(s, k, m): v for s, k, m, v in rows[1:]}
    assert values[("filter", "", "channel")] == "web"
    assert values[("summary", "", "created")] == "2"
    assert values[("summary", "", "resolved")] == "1"
    assert values[("summary", "", "first_response_median_seconds")] == "7200"
    assert values[("summary", "", "satisfaction_average")] == "5.0"
    assert values[("channel", "web", "tickets")] == "2"
    assert values[("agent", "ana@support.example", "open_now")] == "1"
    days = [k for s, k, m in values if s == "day" and m == "created"]
    assert len(days) == 7


def test_it_quotes_what_a_spreadsheet_would_run(manager: Any, customer: Any) -> None:
    from tickets.models import Category

    category = Category.objects.create(name="=HYPERLINK(1)")
    services.ticket_create(requester=customer, subject="s", body="b", category=category)
    content = client_for(manager).get("/reports/export.csv").content.decode()
    assert "category,'=HYPERLINK(1),tickets,1" in content


def test_the_navigation_leads_to_the_dashboard(manager: Any) -> None:
    page = client_for(manager).get("/reports/satisfaction/").content.decode()
    assert re.search(r'class="nav-link active"[^>]*href="/reports/"', page)
    assert 'href="/reports/satisfaction/"' in page


def test_the_page_runs_the_same_queries_whatever_the_number_of_tickets(
    manager: Any, week: list[Ticket], customer: Any, agent: Any
) -> None:
    client = client_for(manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/reports/?period=30").status_code == 200
        return len(captured.captured_queries)

    client.get("/reports/")  # the session and the first-request work
    few = queries()
    for number in range(25):
        ticket = services.ticket_create(requester=customer, subject=f"n{number}", body="b")
        services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
        services.ticket_reply_add(ticket=ticket, author=agent, body="a")
        if number % 3 == 0:
            services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=agent)
            SatisfactionRating.objects.create(ticket=ticket, user=customer, score=4)
    Team.objects.create(name="Mais um")
    assert queries() == few

"""SLA due times on the ticket page and the list (staff only): "due in 2 h",
"due 30 min ago" in red, paused while waiting; the Due column's sort and filter."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.helpdesk.conftest import client_for
from tickets import services
from tickets.models import Ticket
from tickets.states import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def english_agent_client(agent: Any) -> Client:
    agent.language = "en"
    agent.save()
    return client_for(agent)


def due(
    ticket: Ticket, response: datetime.timedelta | None, resolution: datetime.timedelta | None
) -> None:
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(
        response_due_at=now + response if response is not None else None,
        resolution_due_at=now + resolution if resolution is not None else None,
    )


def sla_box(page: str) -> str:
    found = re.search(r'<dl class="props sla-targets.*?</dl>', page, re.S)
    return found.group(0) if found else ""


def test_staff_see_the_due_times_red_when_breached(
    ticket: Ticket, english_agent_client: Client
) -> None:
    due(
        ticket, datetime.timedelta(minutes=-30, seconds=-20), datetime.timedelta(hours=2, minutes=1)
    )
    box = sla_box(english_agent_client.get(ticket.get_absolute_url()).content.decode())
    assert re.search(
        r'class="sla-due text-danger fw-semibold sla-breached"[^>]*>due 30 min ago<', box
    )
    assert re.search(r'class="sla-due sla-ok"[^>]*>due in 2 h<', box)


def test_a_target_near_its_due_time_is_amber_and_a_met_one_says_so(
    ticket: Ticket, agent: Any, english_agent_client: Client
) -> None:
    services.ticket_reply_add(ticket=ticket, author=agent, body="Olhando.")
    due(ticket, datetime.timedelta(hours=1), datetime.timedelta(minutes=20, seconds=30))
    box = sla_box(english_agent_client.get(ticket.get_absolute_url()).content.decode())
    assert ">met<" in box  # answered before the (moved) due time
    assert re.search(r'sla-soon"[^>]*>due in 20 min<', box)


def test_waiting_on_the_customer_shows_paused(
    ticket: Ticket, agent: Any, english_agent_client: Client
) -> None:
    due(ticket, datetime.timedelta(hours=1), datetime.timedelta(hours=5))
    services.ticket_transition(ticket=ticket, to=Status.WAITING_CUSTOMER, actor=agent)
    box = sla_box(english_agent_client.get(ticket.get_absolute_url()).content.decode())
    assert box.count(">paused<") == 2


def test_customers_see_no_due_times(ticket: Ticket, customer_client: Client) -> None:
    due(ticket, datetime.timedelta(hours=-1), datetime.timedelta(hours=5))
    page = customer_client.get(ticket.get_absolute_url()).content.decode()
    assert "sla-targets" not in page and "sla-due" not in page
    listing = customer_client.get("/tickets/?sort=due&due=breached").content.decode()
    assert "sla-due" not in listing and ticket.reference in listing  # the filter is staff-only


def test_the_list_sorts_and_filters_by_the_next_due_time(
    customer: Any, agent: Any, english_agent_client: Client
) -> None:
    def make(subject: str) -> Ticket:
        return services.ticket_create(requester=customer, subject=subject, body="x")

    late, soon, later, none, answered = (
        make(s) for s in ("late", "soon", "later", "none", "answered")
    )
    due(late, datetime.timedelta(hours=-1), datetime.timedelta(hours=3))
    due(soon, datetime.timedelta(hours=2), datetime.timedelta(hours=9))
    due(later, None, datetime.timedelta(hours=30))
    # Answered: the resolution is what is due next, not the earlier response time.
    services.ticket_reply_add(ticket=answered, author=agent, body="Oi.")
    due(answered, datetime.timedelta(hours=-5), datetime.timedelta(hours=3, minutes=30))

    def listed(query: str) -> list[str]:
        page = english_agent_client.get(f"/tickets/?{query}").content.decode()
        return re.findall(r'data-ticket="(HD-\d{4}-\d+)"', page)

    refs = {t.pk: t.reference for t in (late, soon, later, none, answered)}
    order = [late, soon, answered, later, none]
    assert listed("sort=due") == [refs[t.pk] for t in order]
    assert listed("sort=-due") == [refs[t.pk] for t in (later, answered, soon, late, none)]
    assert listed("due=breached") == [late.reference]
    assert sorted(listed("due=4")) == sorted([soon.reference, answered.reference])
    assert sorted(listed("due=24")) == sorted([soon.reference, answered.reference])

    page = english_agent_client.get("/tickets/?sort=due").content.decode()
    assert '<a href="?sort=-due"' in page or "sort=-due" in page  # the header sorts both ways
    row = page[page.index(f'data-ticket="{late.reference}"') :]
    assert re.search(r"sla-breached[^>]*>due 1 h ago<", row[: row.index("</tr>")])


def test_sla_events_show_in_the_thread(ticket: Ticket, english_agent_client: Client) -> None:
    due(ticket, datetime.timedelta(minutes=-1), datetime.timedelta(minutes=30))
    assert services.sla_check() == {"sla_warning": 1, "sla_breach": 1}
    page = english_agent_client.get(ticket.get_absolute_url()).content.decode()
    assert "recorded that the first response is overdue" in page
    assert "warned that the resolution is due soon" in page


def test_the_dashboards_count_breached_and_soon_due_tickets(
    customer: Any, agent: Any, manager: Any, team: Any
) -> None:
    from helpdesk import dashboard

    def make(assignee: Any) -> Ticket:
        ticket = services.ticket_create(requester=customer, subject="x", body="x", team=team)
        services.ticket_assign(ticket=ticket, assignee=assignee, actor=manager)
        return ticket

    late, soon, later, theirs = make(agent), make(agent), make(agent), make(manager)
    due(late, datetime.timedelta(minutes=-5), None)
    due(soon, datetime.timedelta(minutes=40), None)
    due(later, datetime.timedelta(hours=3), None)
    due(theirs, datetime.timedelta(minutes=-5), None)
    counts = dashboard.agent_dashboard(agent)["counts"]
    assert (counts["sla_breached"], counts["sla_due_soon"]) == (1, 1)
    data = dashboard.manager_dashboard(manager)
    assert (data["totals"]["sla_breached"], data["totals"]["sla_due_soon"]) == (2, 1)
    assert [t.sla_breached for t in data["teams"]] == [2]
    page = client_for(agent).get("/").content.decode()
    assert re.search(r'sla-breached-count" href="/tickets/\?assignee=me&amp;due=breached', page)


def test_admins_edit_calendars_with_their_hours_and_holidays_and_policies(
    admin_user: Any,
) -> None:
    from tickets.calendar import default_calendar
    from tickets.models import SLAPolicy

    client = client_for(admin_user)
    calendar = default_calendar()
    assert calendar is not None
    page = client.get(f"/admin/tickets/businesscalendar/{calendar.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "hours-0-start" in text and "Tiradentes" in text
    assert client.get("/admin/tickets/slapolicy/").status_code == 200
    form = {"priority": "high", "first_response_minutes": "60", "resolution_minutes": ""}
    assert client.post("/admin/tickets/slapolicy/add/", form).status_code == 302
    again = client.post("/admin/tickets/slapolicy/add/", form)
    assert again.status_code == 200 and SLAPolicy.objects.count() == 1  # one per combination

"""tickets.metrics against a small history whose every number is worked out
by hand below (times in America/Sao_Paulo, the test settings' zone)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.accounts import user_create
from helpdesk.models import SatisfactionRating
from tickets import metrics, services
from tickets.metrics import Filters
from tickets.models import Category, Team, Ticket
from tickets.states import Status

TZ = ZoneInfo("America/Sao_Paulo")
D1, D3 = date(2026, 3, 10), date(2026, 3, 12)
NOW = datetime(2026, 3, 13, 9, 0, tzinfo=TZ)
H = 3600


def at(day: int, hour: float) -> datetime:
    """March `day`, 2026, at `hour` o'clock local time."""
    return datetime(2026, 3, day, tzinfo=TZ) + timedelta(hours=hour)


@pytest.fixture
def history(db: Any, customer: Any, settings: Any) -> dict[str, Any]:
    """The period is March 10-12 (D1-D3).

    before: T00 made Mar 8, resolved and closed Mar 9 (Bruno; rated 2 on D2)
            T0  made Mar 9, still open, unassigned
    T1 D1 09:00 web   Dúvidas  high    Ana    answered 10:00, resolved 13:00
    T2 D1 11:00 email Hardware medium  Ana    answered D2 11:00, resolved D3 11:00,
                                              closed D3 12:00, rated 4 on D3
    T3 D2 08:00 email Dúvidas  low     Bruno  answered 08:30, in progress
    T4 D3 10:00 api   -        urgent  -      team B, not answered, open
    T5 D2 09:00 web   Dúvidas  medium  Bruno  answered 09:15, resolved, reopened
    """
    settings.TIME_ZONE = "America/Sao_Paulo"
    team_a, team_b = Team.objects.create(name="A"), Team.objects.create(name="B")
    questions = Category.objects.create(name="Dúvidas")
    hardware = Category.objects.create(name="Hardware")
    ana = user_create(email="ana@s.example", full_name="Ana", role="agent")
    bruno = user_create(email="bruno@s.example", full_name="Bruno", role="agent")

    def make(subject: str, *, team: Team, assignee: Any = None, **fields: Any) -> Ticket:
        ticket = services.ticket_create(
            requester=customer, subject=subject, body="...", team=team, **fields
        )
        services.ticket_assign(ticket=ticket, assignee=assignee, actor=ana)
        return ticket

    t00 = make("T00", team=team_a, assignee=bruno, category=questions)
    t0 = make("T0", team=team_a, category=questions)
    t1 = make("T1", team=team_a, assignee=ana, category=questions, priority="high")
    t2 = make("T2", team=team_a, assignee=ana, category=hardware, source="email")
    t3 = make("T3", team=team_a, assignee=bruno, category=questions, priority="low")
    t4 = make("T4", team=team_b, source="api", priority="urgent")
    t5 = make("T5", team=team_a, assignee=bruno, category=questions)
    Ticket.objects.filter(pk=t3.pk).update(source="email")
    for ticket, status in [
        (t00, Status.CLOSED),
        (t1, Status.RESOLVED),
        (t2, Status.RESOLVED),
        (t2, Status.CLOSED),
        (t3, Status.IN_PROGRESS),
        (t5, Status.RESOLVED),
        (t5, Status.OPEN),
    ]:
        services.ticket_transition(ticket=ticket, to=status, actor=ana)
    times: dict[Ticket, dict[str, Any]] = {
        t00: {
            "created_at": at(8, 10),
            "first_response_at": at(8, 11),
            "resolved_at": at(9, 12),
            "closed_at": at(9, 13),
        },
        t0: {"created_at": at(9, 10)},
        t1: {"created_at": at(10, 9), "first_response_at": at(10, 10), "resolved_at": at(10, 13)},
        t2: {
            "created_at": at(10, 11),
            "first_response_at": at(11, 11),
            "resolved_at": at(12, 11),
            "closed_at": at(12, 12),
        },
        t3: {"created_at": at(11, 8), "first_response_at": at(11, 8.5)},
        t4: {"created_at": at(12, 10)},
        t5: {"created_at": at(11, 9), "first_response_at": at(11, 9.25)},
    }
    sla = {
        # response due, resolution due, business seconds to respond and resolve
        t1: (at(10, 12), at(10, 12), 1 * H, 4 * H),
        t2: (at(10, 15), at(13, 18), 2 * H, 10 * H),
        t3: (at(11, 9), at(11, 10), H // 2, None),
        t4: (at(12, 11), None, None, None),
    }
    for ticket, fields in times.items():
        fields = {"first_response_at": None, "resolved_at": None, "closed_at": None, **fields}
        if metrics.has_sla():
            due_r, due_res = sla.get(ticket, (None, None, 0, 0))[:2]
            fields |= {"response_due_at": due_r, "resolution_due_at": due_res}
        if metrics.has_business_hours():
            business = sla.get(ticket, (None, None, None, None))[2:]
            if ticket == t5:
                business = (900, None)
            fields |= {
                "first_response_business_seconds": business[0],
                "resolution_business_seconds": business[1],
            }
        Ticket.objects.filter(pk=ticket.pk).update(**fields)
    for ticket, score, when in [(t00, 2, at(11, 10)), (t2, 4, at(12, 13))]:
        rating = SatisfactionRating.objects.create(ticket=ticket, user=customer, score=score)
        SatisfactionRating.objects.filter(pk=rating.pk).update(created_at=when)
    return {"team_a": team_a, "team_b": team_b, "ana": ana, "bruno": bruno}


def run(**filters: Any) -> metrics.Report:
    return metrics.report(Filters.days(D1, D3, **filters), now=NOW)


@pytest.mark.django_db
def test_it_counts_created_resolved_closed_and_open_by_status(history: dict[str, Any]) -> None:
    report = run()
    assert (report.created, report.resolved, report.closed) == (5, 2, 1)
    assert report.open_by_status == {"open": 3, "in_progress": 1, "waiting_customer": 0}
    assert report.open_now == 4


@pytest.mark.django_db
def test_it_computes_median_and_mean_durations(history: dict[str, Any]) -> None:
    report = run()
    # First responses: 0.25 h, 0.5 h, 1 h, 24 h.
    assert report.first_response == metrics.Durations(count=4, median=2700, mean=23175)
    # Resolutions in the period: T1 4 h, T2 48 h.
    assert report.resolution == metrics.Durations(count=2, median=93600, mean=93600)
    # Only the email tickets: T2 24 h, T3 0.5 h.
    assert run(channel="email").first_response.median == (86400 + 1800) / 2


@pytest.mark.django_db
def test_it_takes_the_middle_value_of_an_odd_count(customer: Any) -> None:
    for hours in (1, 2, 10):
        ticket = services.ticket_create(requester=customer, subject="x", body="y")
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=at(10, 8), first_response_at=at(10, 8 + hours)
        )
    durations = run().first_response
    assert (durations.count, durations.median, durations.mean) == (3, 2 * H, 13 * H / 3)


@pytest.mark.django_db
def test_it_computes_business_hour_durations(history: dict[str, Any]) -> None:
    report = run()
    if not metrics.has_business_hours():
        assert report.first_response_business is None and report.resolution_business is None
        return
    assert report.first_response_business == metrics.Durations(4, median=2700, mean=3375)
    assert report.resolution_business == metrics.Durations(2, median=25200, mean=25200)


@pytest.mark.django_db
def test_it_draws_the_backlog_and_the_daily_lines(history: dict[str, Any]) -> None:
    # Before D1: 2 created, 1 resolved, so the backlog starts at 1.
    assert [(d.day.day, d.created, d.resolved, d.backlog) for d in run().days] == [
        (10, 2, 1, 2),
        (11, 2, 0, 4),
        (12, 1, 1, 4),
    ]


@pytest.mark.django_db
def test_it_distributes_by_category_priority_and_channel(history: dict[str, Any]) -> None:
    report = run()
    assert [(b.label, b.count) for b in report.by_category] == [
        ("Dúvidas", 3),
        ("", 1),
        ("Hardware", 1),
    ]
    assert {b.key: b.count for b in report.by_priority} == {
        "low": 1,
        "medium": 2,
        "high": 1,
        "urgent": 1,
    }
    assert {b.key: b.count for b in report.by_channel} == {"web": 2, "email": 2, "api": 1}


@pytest.mark.django_db
def test_it_gives_each_agent_load_first_response_and_satisfaction(
    history: dict[str, Any],
) -> None:
    rows = {a.email or None: a for a in run().agents}
    assert list(rows) == ["bruno@s.example", "ana@s.example", None]
    bruno, ana, nobody = rows["bruno@s.example"], rows["ana@s.example"], rows[None]
    assert (bruno.open_now, bruno.assigned, bruno.resolved) == (2, 2, 0)
    assert bruno.first_response == (1800 + 900) / 2
    assert (bruno.ratings, bruno.satisfaction) == (1, 2)  # T00, resolved before the period
    assert (ana.open_now, ana.assigned, ana.resolved, ana.first_response) == (0, 2, 2, 45000)
    assert (ana.ratings, ana.satisfaction) == (1, 4)
    assert (nobody.open_now, nobody.assigned, nobody.first_response) == (2, 1, None)


@pytest.mark.django_db
def test_it_averages_satisfaction_and_computes_the_reopen_rate(history: dict[str, Any]) -> None:
    report = run()
    assert (report.satisfaction_count, report.satisfaction_average) == (2, 3.0)
    # T1, T2 and T5 were resolved; T5 came back.
    assert (report.reopened.part, report.reopened.whole) == (1, 3)


@pytest.mark.django_db
def test_it_shares_the_slas_met(history: dict[str, Any]) -> None:
    report = run()
    if not metrics.has_sla():
        assert report.sla is None  # degrades until tickets.sla adds the due times
        return
    # Response: T1 met, T2 late, T3 met, T4 past due unanswered. Resolution:
    # T1 late, T2 met, T3 past due unresolved. T5 has no targets.
    assert report.sla is not None
    assert (report.sla.part, report.sla.whole) == (3, 7)


@pytest.mark.django_db
def test_it_filters_by_team_and_channel(history: dict[str, Any]) -> None:
    team_b = run(team_id=history["team_b"].pk)
    assert (team_b.created, team_b.open_now, team_b.first_response.count) == (1, 1, 0)
    assert [d.backlog for d in team_b.days] == [0, 0, 1]
    web = run(channel="web")
    assert (web.created, web.resolved) == (2, 1)
    assert {b.key: b.count for b in web.by_channel} == {"web": 2, "email": 0, "api": 0}


@pytest.mark.django_db
def test_it_runs_the_same_queries_whatever_the_number_of_tickets(
    history: dict[str, Any], customer: Any
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            run()
        return len(captured.captured_queries)

    few = queries()
    for number in range(30):
        ticket = services.ticket_create(requester=customer, subject=f"more {number}", body="b")
        services.ticket_reply_add(ticket=ticket, author=history["ana"], body="hi")
        Ticket.objects.filter(pk=ticket.pk).update(created_at=at(10 + number % 3, 12))
    assert queries() == few <= 20


@pytest.mark.django_db
def test_it_degrades_without_the_sla_fields(history: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setattr(metrics, "has_sla", lambda: False)
    monkeypatch.setattr(metrics, "has_business_hours", lambda: False)
    report = run()
    assert report.sla is None and report.first_response_business is None
    assert report.first_response.count == 4

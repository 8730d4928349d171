"""SLA due times on the business calendar with a frozen clock: opening,
priority changes, nights, weekends, holidays, waits on the customer, and the
sla_check warnings and breaches."""

from __future__ import annotations

import datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from outbound.mails import build_email
from outbound.models import OutboxItem
from tickets import services, sla
from tickets.calendar import default_calendar, holidays_load
from tickets.models import BusinessCalendar, Category, SLAPolicy, Team, Ticket, TicketEvent
from tickets.states import Status

SP = ZoneInfo("America/Sao_Paulo")
H = 3600


def sp(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SP)


class Clock:
    """timezone.now() frozen at .now until moved."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def set(self, *args: int) -> datetime.datetime:
        self.now = sp(*args)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(sp(2027, 3, 22, 9))
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


@pytest.fixture
def calendar(db: Any) -> BusinessCalendar:
    """The preloaded default: Monday to Friday 9-18 in Sao Paulo, national holidays."""
    found = default_calendar()
    assert found is not None
    holidays_load(calendar=found, years=range(2027, 2028))
    return found


@pytest.fixture
def policies(calendar: BusinessCalendar) -> None:
    SLAPolicy.objects.create(priority="high", first_response_minutes=120, resolution_minutes=480)
    SLAPolicy.objects.create(
        priority="medium", first_response_minutes=240, resolution_minutes=16 * 60
    )
    SLAPolicy.objects.create(priority="urgent", first_response_minutes=30, resolution_minutes=240)


def open_ticket(customer: Any, category: Category, priority: str = "high") -> Ticket:
    ticket = services.ticket_create(
        requester=customer, subject="Sistema fora do ar", body="Ninguém entra.",
        category=category, priority=priority,
    )  # fmt: skip
    ticket.refresh_from_db()
    return ticket


def test_due_times_skip_the_night_good_friday_and_the_weekend(
    clock: Clock, policies: None, customer: Any, category: Category
) -> None:
    clock.set(2027, 3, 25, 17)  # Thursday; Friday 26 March 2027 is Good Friday
    ticket = open_ticket(customer, category)
    # Two business hours: 17-18 on Thursday, then Monday 9-10.
    assert ticket.response_due_at == sp(2027, 3, 29, 10)
    # Eight: one on Thursday, seven on Monday.
    assert ticket.resolution_due_at == sp(2027, 3, 29, 16)
    assert ticket.sla_due_at == ticket.response_due_at


def test_without_a_policy_nothing_is_due(
    clock: Clock, calendar: BusinessCalendar, customer: Any, category: Category
) -> None:
    ticket = open_ticket(customer, category, priority="low")
    assert ticket.response_due_at is None and ticket.resolution_due_at is None
    assert ticket.sla_due_at is None


def test_the_most_specific_policy_wins(
    clock: Clock, policies: None, customer: Any, category: Category, team: Team
) -> None:
    other = Team.objects.create(name="Infra")
    SLAPolicy.objects.create(priority="high", team=team, first_response_minutes=90)
    SLAPolicy.objects.create(priority="high", category=category, first_response_minutes=60)
    SLAPolicy.objects.create(
        priority="high", category=category, team=other, first_response_minutes=15
    )
    clock.set(2027, 3, 22, 10)  # a Monday
    ticket = open_ticket(customer, category)
    assert ticket.team == team
    assert ticket.response_due_at == sp(2027, 3, 22, 11)  # category over team
    assert ticket.resolution_due_at is None  # that policy sets no resolution target
    services.ticket_team_set(ticket=ticket, team=other, actor=None)
    assert ticket.response_due_at == sp(2027, 3, 22, 10, 15)
    services.ticket_category_set(ticket=ticket, category=None, actor=None)
    assert ticket.response_due_at == sp(2027, 3, 22, 12)  # the plain high policy
    assert ticket.resolution_due_at == sp(2027, 3, 22, 18)


def test_a_priority_change_recomputes_from_the_opening(
    clock: Clock, policies: None, customer: Any, category: Category
) -> None:
    clock.set(2027, 3, 22, 10)
    ticket = open_ticket(customer, category, priority="medium")
    assert ticket.response_due_at == sp(2027, 3, 22, 14)
    clock.set(2027, 3, 22, 10, 5)
    services.ticket_priority_set(ticket=ticket, priority="urgent", actor=None)
    ticket.refresh_from_db()
    assert ticket.response_due_at == sp(2027, 3, 22, 10, 30)
    assert ticket.resolution_due_at == sp(2027, 3, 22, 14)


def test_a_team_calendar_is_used_over_the_default(
    clock: Clock, policies: None, customer: Any, category: Category, team: Team
) -> None:
    night = BusinessCalendar.objects.create(name="Plantão 24h", time_zone="America/Sao_Paulo")
    team.calendar = night
    team.save()
    clock.set(2027, 3, 26, 23)  # Good Friday, late: the on-call team works anyway
    ticket = open_ticket(customer, category)
    assert ticket.response_due_at == sp(2027, 3, 27, 1)


def test_waiting_on_the_customer_stops_the_clock(
    clock: Clock, policies: None, customer: Any, category: Category, agent: Any
) -> None:
    clock.set(2027, 3, 29, 9)  # Monday
    ticket = open_ticket(customer, category, priority="medium")
    assert ticket.resolution_due_at == sp(2027, 3, 30, 16)  # 16 h: 9 Monday, 7 Tuesday
    clock.set(2027, 3, 29, 10)
    services.ticket_reply_add(
        ticket=ticket, author=agent, body="Pode mandar um print?", set_status="waiting_customer"
    )
    ticket.refresh_from_db()
    assert ticket.first_response_business_seconds == H
    assert ticket.sla_paused_at == sp(2027, 3, 29, 10)
    assert ticket.sla_due_at is None  # nothing runs while the customer has the ticket
    # Wednesday 10:00: 8 h on Monday, 9 on Tuesday, 1 on Wednesday paused.
    clock.set(2027, 3, 31, 10)
    services.ticket_reply_add(ticket=ticket, author=customer, body="Segue o print.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.sla_paused_at is None
    assert ticket.sla_paused_seconds == 18 * H
    # 16 h + 18 h from Monday 9:00: 9 + 9 + 9 + 7 = Thursday 16:00.
    assert ticket.resolution_due_at == sp(2027, 4, 1, 16)
    assert ticket.sla_due_at == ticket.resolution_due_at
    assert ticket.response_due_at == sp(2027, 3, 29, 13)  # met: kept as it was
    clock.set(2027, 4, 1, 11)
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    ticket.refresh_from_db()
    # 29 business hours since Monday 9:00, 18 of them waiting on the customer.
    assert ticket.resolution_business_seconds == 11 * H


def test_a_reopened_ticket_is_not_charged_for_the_time_it_was_resolved(
    clock: Clock, policies: None, customer: Any, category: Category, agent: Any
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)  # resolution due 17:00
    clock.set(2027, 3, 29, 12)
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    ticket.refresh_from_db()
    assert ticket.resolution_business_seconds == 3 * H
    clock.set(2027, 3, 30, 9)  # reopened next morning: 6 h resolved
    services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=agent)
    ticket.refresh_from_db()
    assert ticket.resolution_business_seconds is None
    assert ticket.resolution_due_at == sp(2027, 3, 30, 14)


def test_a_breach_before_the_wait_stays_a_breach(
    clock: Clock, policies: None, customer: Any, category: Category, agent: Any
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)  # resolution due 17:00
    clock.set(2027, 3, 30, 10)
    services.ticket_transition(ticket=ticket, to=Status.WAITING_CUSTOMER, actor=agent)
    clock.set(2027, 3, 31, 10)
    services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=agent)
    ticket.refresh_from_db()
    assert ticket.resolution_due_at is not None and ticket.resolution_due_at < clock.now


@pytest.fixture
def english_agent(team: Team) -> Any:
    user = user_create(
        email="eve@support.example", full_name="Eve Agent", role=Role.AGENT, password="x" * 12
    )
    user.language = "en"
    user.save()
    team.members.add(user)
    return user


def alerts(ticket: Ticket) -> list[tuple[str, str]]:
    return list(ticket.events.filter(kind__startswith="sla_").values_list("kind", "new_value"))


def test_sla_check_warns_the_team_then_records_the_breach_once(
    clock: Clock, policies: None, customer: Any, category: Category, english_agent: Any
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)  # first response due 11:00
    OutboxItem.objects.all().delete()
    clock.set(2027, 3, 29, 9, 55)
    assert services.sla_check() == {sla.WARNING: 0, sla.BREACH: 0}
    clock.set(2027, 3, 29, 10, 5)
    assert services.sla_check() == {sla.WARNING: 1, sla.BREACH: 0}
    assert services.sla_check() == {sla.WARNING: 0, sla.BREACH: 0}  # once
    assert alerts(ticket) == [("sla_warning", "first_response")]
    [mail] = OutboxItem.objects.filter(event="sla_warning")
    assert mail.recipient == english_agent.email  # unassigned: the team's available agents
    message = build_email(mail.payload)
    assert message.subject == f"Due soon: [{ticket.reference}] Sistema fora do ar"
    assert f"The first response to ticket {ticket.reference} is due" in message.body
    assert "11:00" in message.body  # shown in the helpdesk's time zone
    assert mail.payload["reply_internal"]  # a staff-only notice

    clock.set(2027, 3, 29, 11)
    out = StringIO()
    call_command("sla_check", stdout=out)
    assert out.getvalue() == "sla_check: 0 warnings, 1 breaches\n"
    call_command("sla_check", stdout=out)
    assert alerts(ticket) == [("sla_warning", "first_response"), ("sla_breach", "first_response")]
    assert OutboxItem.objects.filter(event="sla_warning").count() == 1


def test_the_warning_goes_to_the_assignee(
    clock: Clock,
    policies: None,
    customer: Any,
    category: Category,
    agent: Any,
    english_agent: Any,
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=english_agent)
    services.ticket_reply_add(ticket=ticket, author=agent, body="Olhando.")
    OutboxItem.objects.all().delete()
    clock.set(2027, 3, 29, 16, 30)  # resolution due 17:00
    assert services.sla_check() == {sla.WARNING: 1, sla.BREACH: 0}
    [mail] = OutboxItem.objects.filter(event="sla_warning")
    assert mail.recipient == agent.email
    assert ticket.reference in build_email(mail.payload).body


def test_nothing_is_raised_while_the_clock_stands_still(
    clock: Clock, policies: None, customer: Any, category: Category, agent: Any
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)
    services.ticket_transition(ticket=ticket, to=Status.WAITING_CUSTOMER, actor=agent)
    clock.set(2027, 3, 29, 19)
    assert services.sla_check() == {sla.WARNING: 0, sla.BREACH: 0}


def test_a_breach_is_claimed_once_even_by_a_late_second_run(
    clock: Clock, policies: None, customer: Any, category: Category
) -> None:
    clock.set(2027, 3, 29, 9)
    ticket = open_ticket(customer, category)
    clock.set(2027, 3, 29, 12)
    # Two copies found the same ticket; the second one to lock it records nothing.
    pending = sla.alerts_pending(clock.now)
    assert [(kind, target) for _t, kind, target in pending] == [("sla_breach", "first_response")]
    first = services.ticket_sla_alert(
        ticket=ticket, kind=sla.BREACH, target=sla.FIRST_RESPONSE, now=clock.now
    )
    second = services.ticket_sla_alert(
        ticket=ticket, kind=sla.BREACH, target=sla.FIRST_RESPONSE, now=clock.now
    )
    assert (first, second) == (True, False)
    assert TicketEvent.objects.filter(ticket=ticket, kind="sla_breach").count() == 1

"""Working hours set an agent available or away, at their starts and ends only."""

from __future__ import annotations

import datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management import call_command

from helpdesk.availability import availability_sync
from tickets.calendar import calendar_create, is_working
from tickets.models import Holiday

SP = ZoneInfo("America/Sao_Paulo")


def sp(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SP)


def test_is_working() -> None:
    from tickets.calendar import Schedule

    week = Schedule(tz=SP, hours=(((datetime.time(9), datetime.time(18)),),) * 5 + ((), ()))
    assert is_working(week, sp(2027, 3, 22, 9))
    assert not is_working(week, sp(2027, 3, 22, 18))
    assert not is_working(week, sp(2027, 3, 27, 12))  # Saturday
    assert is_working(None, sp(2027, 3, 27, 3))


def test_working_hours_switch_the_agent_and_a_choice_by_hand_holds(agent: Any) -> None:
    calendar = calendar_create(name="Turno da Ana")
    Holiday.objects.get_or_create(
        calendar=calendar, date=datetime.date(2027, 3, 26), defaults={"name": "Sexta-feira Santa"}
    )
    agent.work_calendar = calendar
    agent.save()

    def at(*args: int) -> bool:
        availability_sync(now=sp(*args))
        agent.refresh_from_db()
        return bool(agent.is_available)

    assert at(2027, 3, 25, 8) is False  # before work: away
    assert at(2027, 3, 25, 9, 5) is True
    agent.is_available = False  # lunch, set by hand
    agent.save()
    assert at(2027, 3, 25, 12, 30) is False  # still working hours: the choice holds
    assert at(2027, 3, 25, 18, 5) is False
    assert at(2027, 3, 26, 10) is False  # Good Friday
    assert at(2027, 3, 29, 9) is True  # Monday


def test_agents_without_working_hours_are_left_alone(agent: Any) -> None:
    agent.is_available = False
    agent.save()
    out = StringIO()
    call_command("availability_sync", stdout=out)
    agent.refresh_from_db()
    assert agent.is_available is False and out.getvalue() == ""

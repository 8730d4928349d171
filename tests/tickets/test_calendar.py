"""Business time across nights, weekends, holidays and time zones (pure functions,
explicit instants: no clock is read)."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.calendar import (
    Schedule,
    add_business_time,
    business_seconds,
    calendar_create,
    default_calendar,
    holidays_load,
    schedule_of,
)
from tickets.holidays import brazil_national_holidays, easter
from tickets.models import BusinessCalendar, Holiday, WorkingHours

SP = ZoneInfo("America/Sao_Paulo")
H = 3600
NINE_TO_SIX = ((datetime.time(9), datetime.time(18)),)
WEEK = Schedule(
    tz=SP,
    hours=(NINE_TO_SIX,) * 5 + ((), ()),
    holidays=frozenset(day for day, _name in brazil_national_holidays(2025)),
)
LUNCH = Schedule(
    tz=SP,
    hours=(((datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(18))),) * 5
    + ((), ()),
)


def sp(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SP)


def test_it_counts_within_a_working_day() -> None:
    assert add_business_time(WEEK, sp(2025, 4, 22, 10), 2 * H) == sp(2025, 4, 22, 12)
    assert business_seconds(WEEK, sp(2025, 4, 22, 10), sp(2025, 4, 22, 12)) == 2 * H


def test_it_carries_over_the_night() -> None:
    assert add_business_time(WEEK, sp(2025, 4, 22, 17, 30), H) == sp(2025, 4, 23, 9, 30)
    assert business_seconds(WEEK, sp(2025, 4, 22, 17, 30), sp(2025, 4, 23, 9, 30)) == H


def test_a_due_time_on_the_end_of_the_day_is_that_end() -> None:
    assert add_business_time(WEEK, sp(2025, 4, 22, 17), H) == sp(2025, 4, 22, 18)


def test_it_starts_counting_when_the_day_starts() -> None:
    assert add_business_time(WEEK, sp(2025, 4, 22, 7), 30 * 60) == sp(2025, 4, 22, 9, 30)
    assert add_business_time(WEEK, sp(2025, 4, 22, 23), 30 * 60) == sp(2025, 4, 23, 9, 30)
    assert business_seconds(WEEK, sp(2025, 4, 22, 18), sp(2025, 4, 23, 9)) == 0


def test_it_skips_the_weekend() -> None:
    friday, monday = sp(2025, 5, 9, 17), sp(2025, 5, 12, 10)
    assert add_business_time(WEEK, friday, 2 * H) == monday
    assert business_seconds(WEEK, friday, monday) == 2 * H
    # Received on Saturday: the clock starts on Monday morning.
    assert add_business_time(WEEK, sp(2025, 5, 10, 11), H) == sp(2025, 5, 12, 10)


def test_it_skips_good_friday_the_weekend_and_tiradentes() -> None:
    thursday = sp(2025, 4, 17, 17)
    # Friday 18 (Good Friday), the weekend, Monday 21 (Tiradentes): Tuesday.
    assert add_business_time(WEEK, thursday, 2 * H) == sp(2025, 4, 22, 10)
    assert business_seconds(WEEK, thursday, sp(2025, 4, 22, 10)) == 2 * H


def test_carnival_is_off() -> None:
    # Friday 28 February 2025, then Carnival Monday and Tuesday.
    assert add_business_time(WEEK, sp(2025, 2, 28, 17), 2 * H) == sp(2025, 3, 5, 10)


def test_a_lunch_break_does_not_count() -> None:
    assert add_business_time(LUNCH, sp(2025, 4, 22, 11), 2 * H) == sp(2025, 4, 22, 14)
    assert business_seconds(LUNCH, sp(2025, 4, 22, 11, 30), sp(2025, 4, 22, 13, 30)) == H


def test_it_returns_utc_and_takes_any_zone() -> None:
    start = datetime.datetime(2025, 4, 22, 13, tzinfo=datetime.UTC)  # 10:00 in Sao Paulo
    due = add_business_time(WEEK, start, H)
    assert due == sp(2025, 4, 22, 11) and due.tzinfo == datetime.UTC


def test_no_hours_means_around_the_clock_except_holidays() -> None:
    always = Schedule(tz=SP, holidays=frozenset({datetime.date(2025, 12, 25)}))
    assert add_business_time(always, sp(2025, 12, 24, 22), 4 * H) == sp(2025, 12, 26, 2)
    assert add_business_time(None, sp(2025, 12, 24, 22), 4 * H) == sp(2025, 12, 25, 2)


def test_it_counts_real_time_across_a_dst_change() -> None:
    # New York springs forward on 9 March 2025: that Sunday has 23 hours.
    ny = ZoneInfo("America/New_York")
    always = Schedule(tz=ny)
    start = datetime.datetime(2025, 3, 8, 12, tzinfo=ny)
    assert add_business_time(always, start, 24 * H) == datetime.datetime(2025, 3, 9, 13, tzinfo=ny)
    assert business_seconds(always, start, datetime.datetime(2025, 3, 9, 12, tzinfo=ny)) == 23 * H


def test_an_end_before_the_start_is_zero() -> None:
    assert business_seconds(WEEK, sp(2025, 4, 22, 12), sp(2025, 4, 22, 10)) == 0
    assert add_business_time(WEEK, sp(2025, 4, 22, 12), 0) == sp(2025, 4, 22, 12)


def test_a_calendar_that_never_works_is_an_error() -> None:
    sunday_hour = Schedule(tz=SP, hours=((),) * 6 + (((datetime.time(9), datetime.time(10)),),))
    assert add_business_time(sunday_hour, sp(2025, 4, 22, 12), H) == sp(2025, 4, 27, 10)
    with pytest.raises(ValueError):
        add_business_time(sunday_hour, sp(2025, 4, 22, 12), 10_000 * H)


@given(
    start=st.datetimes(
        min_value=datetime.datetime(2025, 1, 1), max_value=datetime.datetime(2025, 12, 31)
    ),
    seconds=st.integers(min_value=1, max_value=200 * H),
)
def test_business_seconds_undoes_add_business_time(start: datetime.datetime, seconds: int) -> None:
    aware = start.replace(tzinfo=SP)
    due = add_business_time(LUNCH, aware, seconds)
    assert business_seconds(LUNCH, aware, due) == seconds


def test_easter() -> None:
    assert [easter(y) for y in (2024, 2025, 2026, 2027)] == [
        datetime.date(2024, 3, 31),
        datetime.date(2025, 4, 20),
        datetime.date(2026, 4, 5),
        datetime.date(2027, 3, 28),
    ]


def test_brazils_holidays() -> None:
    days = dict(brazil_national_holidays(2026))
    assert days[datetime.date(2026, 4, 3)] == "Sexta-feira Santa"
    assert days[datetime.date(2026, 6, 4)] == "Corpus Christi"
    assert datetime.date(2026, 2, 16) in days and datetime.date(2026, 2, 17) in days
    assert datetime.date(2026, 11, 20) in days
    assert len(days) == 13
    # Black Consciousness Day is national since 2024.
    assert datetime.date(2023, 11, 20) not in dict(brazil_national_holidays(2023))


def test_the_default_calendar_is_preloaded(db: Any) -> None:
    calendar = default_calendar()
    assert calendar is not None and calendar.is_default
    assert calendar.time_zone == "America/Sao_Paulo"
    assert calendar.hours.count() == 5
    year = datetime.datetime.now(SP).year
    assert calendar.holidays.filter(date=datetime.date(year + 1, 12, 25)).exists()


def test_a_calendars_rows_make_its_schedule(db: Any) -> None:
    calendar = BusinessCalendar.objects.create(name="Plantão", time_zone="America/Manaus")
    WorkingHours.objects.create(
        calendar=calendar, weekday=5, start=datetime.time(8), end=datetime.time(0)
    )
    Holiday.objects.create(calendar=calendar, date=datetime.date(2025, 5, 10), name="Folga")
    schedule = schedule_of(calendar)
    manaus = ZoneInfo("America/Manaus")
    # Saturday 10 May is off: Saturday 17 May, from 8:00 to midnight.
    start = datetime.datetime(2025, 5, 9, 12, tzinfo=manaus)
    assert add_business_time(schedule, start, 16 * H) == datetime.datetime(
        2025, 5, 18, tzinfo=manaus
    )


def test_holidays_load_keeps_what_an_admin_edited(db: Any) -> None:
    calendar = calendar_create(name="Filial")
    year = datetime.datetime.now(SP).year
    christmas = calendar.holidays.get(date=datetime.date(year, 12, 25))
    christmas.name = "Natal (escritório fechado)"
    christmas.save()
    assert holidays_load(calendar=calendar, years=range(year, year + 6)) == 13
    christmas.refresh_from_db()
    assert christmas.name == "Natal (escritório fechado)"

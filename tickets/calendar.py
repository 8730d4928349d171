"""Business time: the hours a calendar works, and arithmetic on them.

A calendar (tickets.models.BusinessCalendar) works its weekday intervals in
its own time zone, except on its holidays; with no intervals at all it works
around the clock on every day that is not a holiday. The two functions the
SLA clock needs are pure: they read the calendar's rows (or take a Schedule
built beforehand) and write nothing.

All arithmetic is done on UTC instants: subtracting two aware datetimes of
the same zone compares wall-clock times, which is wrong across a DST change.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tickets.holidays import brazil_national_holidays
from tickets.models import BusinessCalendar, Holiday, WorkingHours

UTC = datetime.UTC
# How far the clock looks for working time before giving up (a calendar
# whose every day is a holiday would otherwise never end).
MAX_DAYS = 3 * 366
MIDNIGHT = datetime.time(0)
Interval = tuple[datetime.time, datetime.time]


@dataclass(frozen=True)
class Schedule:
    """A calendar read into memory: intervals per weekday (0 = Monday)."""

    tz: ZoneInfo
    hours: tuple[tuple[Interval, ...], ...] = ((),) * 7
    holidays: frozenset[datetime.date] = frozenset()

    @property
    def around_the_clock(self) -> bool:
        return not any(self.hours)

    def windows(self, day: datetime.date) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The working periods of a local date, as UTC instants, in order."""
        if day in self.holidays:
            return []
        intervals = ((MIDNIGHT, MIDNIGHT),) if self.around_the_clock else self.hours[day.weekday()]
        out = []
        for start, end in intervals:
            begin = datetime.datetime.combine(day, start, tzinfo=self.tz)
            end_day = day + datetime.timedelta(days=1) if end == MIDNIGHT else day
            finish = datetime.datetime.combine(end_day, end, tzinfo=self.tz)
            out.append((begin.astimezone(UTC), finish.astimezone(UTC)))
        return out

    def days_from(self, moment: datetime.datetime) -> Iterator[datetime.date]:
        # From the day before: a window ending after midnight may still be open.
        day = moment.astimezone(self.tz).date() - datetime.timedelta(days=1)
        for offset in range(MAX_DAYS):
            yield day + datetime.timedelta(days=offset)


# No calendar at all: every second counts.
ALWAYS = Schedule(tz=ZoneInfo("UTC"))


def schedule_of(calendar: BusinessCalendar | Schedule | None) -> Schedule:
    """The calendar's Schedule (reads its hours and holidays unless prefetched)."""
    if calendar is None:
        return ALWAYS
    if isinstance(calendar, Schedule):
        return calendar
    hours: list[list[Interval]] = [[] for _ in range(7)]
    for row in calendar.hours.all():
        hours[row.weekday].append((row.start, row.end))
    return Schedule(
        tz=ZoneInfo(calendar.time_zone),
        hours=tuple(tuple(sorted(day)) for day in hours),
        holidays=frozenset(h.date for h in calendar.holidays.all()),
    )


def default_calendar() -> BusinessCalendar | None:
    """The calendar of teams that name none: the one marked default, else the first."""
    return BusinessCalendar.objects.order_by("-is_default", "name").first()


def add_business_time(
    calendar: BusinessCalendar | Schedule | None, start: datetime.datetime, seconds: int
) -> datetime.datetime:
    """The instant (UTC) when `seconds` of the calendar's working time after
    start have passed. A due time that falls on the end of a working period
    is that end, not the start of the next one."""
    schedule = schedule_of(calendar)
    start = start.astimezone(UTC)
    remaining = datetime.timedelta(seconds=max(0, seconds))
    if not remaining:
        return start
    for day in schedule.days_from(start):
        for begin, finish in schedule.windows(day):
            begin = max(begin, start)
            if finish <= begin:
                continue
            if remaining <= finish - begin:
                return begin + remaining
            remaining -= finish - begin
    raise ValueError(f"The calendar has no working time within {MAX_DAYS} days of {start}.")


def is_working(calendar: BusinessCalendar | Schedule | None, at: datetime.datetime) -> bool:
    """Whether the calendar works at the instant at."""
    schedule = schedule_of(calendar)
    at = at.astimezone(UTC)
    day = at.astimezone(schedule.tz).date()
    return any(
        begin <= at < finish
        for d in (day - datetime.timedelta(days=1), day)
        for begin, finish in schedule.windows(d)
    )


def business_seconds(
    calendar: BusinessCalendar | Schedule | None,
    start: datetime.datetime,
    end: datetime.datetime,
) -> int:
    """The calendar's working seconds between start and end (0 if end <= start)."""
    schedule = schedule_of(calendar)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = datetime.timedelta()
    if end <= start:
        return 0
    for day in schedule.days_from(start):
        for begin, finish in schedule.windows(day):
            if begin >= end:
                return int(total.total_seconds())
            begin, finish = max(begin, start), min(finish, end)
            if finish > begin:
                total += finish - begin
    return int(total.total_seconds())


def holidays_load(*, calendar: BusinessCalendar, years: range) -> int:
    """Add Brazil's national holidays of years to calendar; days it already
    lists (edited or removed ones excepted) stay as they are. Returns how many
    were added."""
    rows = [
        Holiday(calendar=calendar, date=day, name=name)
        for year in years
        for day, name in brazil_national_holidays(year)
    ]
    before = calendar.holidays.count()
    Holiday.objects.bulk_create(rows, ignore_conflicts=True)
    return calendar.holidays.count() - before


# The default calendar's hours (tickets migration 0013): Monday to Friday, 9 to 18.
DEFAULT_HOURS = [(weekday, datetime.time(9), datetime.time(18)) for weekday in range(5)]


def calendar_create(
    *, name: str, time_zone: str = "America/Sao_Paulo", is_default: bool = False
) -> BusinessCalendar:
    """A calendar working DEFAULT_HOURS, with the national holidays of this
    year and the next four."""
    calendar = BusinessCalendar.objects.create(
        name=name, time_zone=time_zone, is_default=is_default
    )
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=w, start=s, end=e) for w, s, e in DEFAULT_HOURS
    )
    this_year = datetime.datetime.now(ZoneInfo(time_zone)).year
    holidays_load(calendar=calendar, years=range(this_year, this_year + 5))
    return calendar

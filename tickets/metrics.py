"""The numbers of the reports dashboard, its CSV and the summary mail.

Every figure is a database aggregate over one filter set (a period, and
optionally a team and a channel); Python only folds the handful of grouped
rows the database returns (days, categories, agents), never the tickets
themselves. report() runs the same fixed number of queries whatever the
number of tickets (tests/tickets/test_metrics.py counts them).

Cohorts, so that each number means one thing:
- created, first response, distributions, reopen rate, SLAs met: tickets
  created in the period;
- resolved, resolution time: tickets whose (current) resolution falls in the
  period; closed likewise;
- open by status and agent load: now;
- satisfaction: ratings given in the period;
- backlog at the end of each day: tickets created by then minus tickets
  resolved by then (a ticket reopened since counts as open from its creation,
  because a reopen clears its resolution time).

Durations are in seconds. Business-hour durations and the SLA share come
from the SLA fields of Ticket (tickets.sla); without them they are None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.models import (
    Avg,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from tickets.models import Source, Ticket, TicketEvent
from tickets.states import ACTIVE_STATUSES, Priority, Status

ACTIVE = [s for s in Status.values if s in ACTIVE_STATUSES]
DONE = [Status.RESOLVED, Status.CLOSED]
# The channels a manager filters by; "system" tickets are split-offs.
CHANNELS = [Source.WEB, Source.EMAIL, Source.API]
PERIOD_DAYS = (7, 30, 90)


class Seconds(Func):
    """end - start in seconds (whole seconds on SQLite), with the database's
    own functions: Django's datetime subtraction is a Python function on
    SQLite, called per row, which made the median sorts and the averages the
    slowest part of a report. SQLite and PostgreSQL, like the rest."""

    output_field = FloatField()

    def __init__(self, end: str, start: str) -> None:
        super().__init__(F(end), F(start))

    def _operands(self, compiler: Any) -> tuple[str, str, tuple[Any, ...]]:
        (end, end_params), (start, start_params) = (
            compiler.compile(e) for e in self.get_source_expressions()
        )
        return end, start, (*end_params, *start_params)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        end, start, params = self._operands(compiler)
        cast = "CAST(strftime('%%s', {}) AS REAL)"
        return f"({cast.format(end)} - {cast.format(start)})", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        end, start, params = self._operands(compiler)
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::float", params


FIRST_RESPONSE = Seconds("first_response_at", "created_at")
RESOLUTION = Seconds("resolved_at", "created_at")


def _local_day(name: str, filters: Filters) -> Any:
    """The local calendar day of a datetime field, for grouping per day.

    On SQLite, Django's TruncDate converts every row's time zone in Python;
    when the zone keeps one UTC offset over the whole period (no DST change,
    as in Brazil), SQLite's date(field, '<offset> seconds') does it natively.
    """
    if connection.vendor == "sqlite":
        offsets = {timezone.localtime(t).utcoffset() for t in (filters.start, filters.end)}
        if len(offsets) == 1:
            offset = offsets.pop()
            seconds = int(offset.total_seconds()) if offset is not None else 0
            return Func(
                F(name), Value(f"{seconds:+d} seconds"), function="date", output_field=CharField()
            )
    return TruncDate(name)


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def has_field(name: str) -> bool:
    """Whether Ticket has a field (the SLA fields arrive with tickets.sla)."""
    try:
        Ticket._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def has_business_hours() -> bool:
    return has_field("first_response_business_seconds") and has_field("resolution_business_seconds")


def has_sla() -> bool:
    return has_field("response_due_at") and has_field("resolution_due_at")


@dataclass(frozen=True)
class Filters:
    """[start, end) in time, and the team (id) and channel (Source value)."""

    start: datetime
    end: datetime
    team_id: int | None = None
    channel: str = ""

    @classmethod
    def days(
        cls, first: date, last: date, *, team_id: int | None = None, channel: str = ""
    ) -> Filters:
        """Whole days first..last (inclusive) in the current time zone."""
        tz = timezone.get_current_timezone()
        return cls(
            start=datetime.combine(first, time.min, tzinfo=tz),
            end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz),
            team_id=team_id,
            channel=channel,
        )

    @classmethod
    def last_days(
        cls, count: int, *, today: date | None = None, team_id: int | None = None, channel: str = ""
    ) -> Filters:
        """The count days that end with today (local)."""
        last = today or timezone.localdate()
        return cls.days(last - timedelta(days=count - 1), last, team_id=team_id, channel=channel)

    @property
    def first_day(self) -> date:
        return timezone.localtime(self.start).date()

    @property
    def last_day(self) -> date:
        return timezone.localtime(self.end - timedelta(microseconds=1)).date()

    def in_period(self, name: str) -> Q:
        return Q(**{f"{name}__gte": self.start, f"{name}__lt": self.end})

    def tickets(self) -> QuerySet[Ticket]:
        """Every ticket of the team and channel, in or out of the period."""
        qs = Ticket.objects.order_by()
        if self.team_id is not None:
            qs = qs.filter(team_id=self.team_id)
        if self.channel:
            qs = qs.filter(source=self.channel)
        return qs


@dataclass(frozen=True)
class Durations:
    """How long something took, over count tickets (seconds)."""

    count: int
    median: float | None
    mean: float | None


@dataclass(frozen=True)
class Day:
    day: date
    created: int
    resolved: int
    backlog: int


@dataclass(frozen=True)
class Bucket:
    key: str  # a stable value: category id, priority or channel code
    label: str
    count: int


@dataclass(frozen=True)
class AgentRow:
    agent_id: int | None  # None: unassigned
    name: str
    email: str
    open_now: int
    assigned: int  # created in the period and assigned to them
    resolved: int
    first_response: float | None  # mean seconds, tickets created in the period
    ratings: int
    satisfaction: float | None


@dataclass(frozen=True)
class Ratio:
    part: int
    whole: int

    @property
    def share(self) -> float | None:
        return self.part / self.whole if self.whole else None


@dataclass
class Report:
    filters: Filters
    created: int
    resolved: int
    closed: int
    open_by_status: dict[str, int]
    first_response: Durations
    resolution: Durations
    first_response_business: Durations | None
    resolution_business: Durations | None
    days: list[Day]
    by_category: list[Bucket]
    by_priority: list[Bucket]
    by_channel: list[Bucket]
    agents: list[AgentRow]
    reopened: Ratio  # created in the period: reopened of those ever resolved
    satisfaction_count: int
    satisfaction_average: float | None
    sla: Ratio | None  # targets met of targets measured
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def open_now(self) -> int:
        return sum(self.open_by_status.values())


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _median(qs: QuerySet[Ticket], expression: Any, count: int) -> float | None:
    """The median of expression over qs's count rows: the middle one or two
    values by ORDER BY ... LIMIT 2 OFFSET, which both SQLite (no percentile
    function) and PostgreSQL run from one sort. Always one query, even for
    no rows, so a report costs the same queries whatever the data."""
    offset = max(0, (count - 1) // 2)
    values = [
        _seconds(v)
        for v in qs.annotate(_d=expression)
        .order_by("_d")
        .values_list("_d", flat=True)[offset : offset + 2]
    ]
    if count <= 0 or not values:
        return None
    middle = values if count % 2 == 0 else values[:1]
    numbers = [v for v in middle if v is not None]
    return sum(numbers) / len(numbers) if numbers else None


def _durations(qs: QuerySet[Ticket], expression: Any, count: int, mean: Any) -> Durations:
    return Durations(count=count, median=_median(qs, expression, count), mean=_seconds(mean))


def _tickets_with_move(cohort: QuerySet[Ticket], *, old: Any, new: Any) -> int:
    """How many of cohort's tickets ever moved from a status in old to one in new."""
    return (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.STATUS,
            old_value__in=old,
            new_value__in=new,
            ticket__in=cohort.values("pk"),
        )
        .values("ticket_id")
        .distinct()
        .count()
    )


def report(filters: Filters, *, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    tickets = filters.tickets()
    created_in = filters.in_period("created_at")
    resolved_in = filters.in_period("resolved_at")
    closed_in = filters.in_period("closed_at")
    business = has_business_hours()
    sla = has_sla()

    # 1. Now and before the period: the open tickets read once, by status and
    # assignee (both the "open by status" card and each agent's load), and the
    # backlog's start (two index-only counts).
    who = ("assigned_to_id", "assigned_to__full_name", "assigned_to__email")
    open_rows = list(
        tickets.filter(status__in=ACTIVE).values("status", *who).annotate(n=Count("pk"))
    )
    by_status: dict[str, int] = {}
    for row in open_rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
    created_before = tickets.filter(created_at__lt=filters.start).count()
    resolved_before = tickets.filter(resolved_at__lt=filters.start).count()

    # 2. Tickets created in the period.
    created_qs = tickets.filter(created_in)
    responded = Q(first_response_at__isnull=False)
    cohort: dict[str, Any] = {
        "created": Count("pk"),
        "fr_count": Count("pk", filter=responded),
        "fr_mean": Avg(FIRST_RESPONSE, filter=responded),
    }
    if business:
        has_frb = Q(first_response_business_seconds__isnull=False)
        cohort["frb_count"] = Count("pk", filter=has_frb)
        cohort["frb_mean"] = Avg("first_response_business_seconds", filter=has_frb)
    if sla:
        # A target counts once it is decided: met, or missed (done late, or
        # not done and already past due).
        cohort["sla_response_measured"] = Count(
            "pk",
            filter=Q(response_due_at__isnull=False)
            & (Q(first_response_at__isnull=False) | Q(response_due_at__lt=now)),
        )
        cohort["sla_response_met"] = Count(
            "pk",
            filter=Q(response_due_at__isnull=False, first_response_at__lte=F("response_due_at")),
        )
        cohort["sla_resolution_measured"] = Count(
            "pk",
            filter=Q(resolution_due_at__isnull=False)
            & (Q(resolved_at__isnull=False) | Q(resolution_due_at__lt=now)),
        )
        cohort["sla_resolution_met"] = Count(
            "pk",
            filter=Q(resolution_due_at__isnull=False, resolved_at__lte=F("resolution_due_at")),
        )
    created = created_qs.aggregate(**cohort)
    # A reopen is a move from resolved/closed back to work; it needs a
    # resolution before it, so reopened <= ever resolved. Read from the
    # (kind, ticket) events, joined to the cohort once, not probed per ticket.
    created["ever_resolved"] = _tickets_with_move(created_qs, old=ACTIVE, new=DONE)
    created["reopened"] = _tickets_with_move(created_qs, old=DONE, new=ACTIVE)

    # 3. Tickets resolved in the period, and those closed in it.
    finished: dict[str, Any] = {
        "resolved": Count("pk"),
        "res_mean": Avg(RESOLUTION),
    }
    if business:
        has_resb = Q(resolution_business_seconds__isnull=False)
        finished["resb_count"] = Count("pk", filter=has_resb)
        finished["resb_mean"] = Avg("resolution_business_seconds", filter=has_resb)
    done = tickets.filter(resolved_in).aggregate(**finished)
    closed = tickets.filter(closed_in).count()

    # 4-5. Per day, in the current time zone.
    created_per_day = {
        _as_date(day): n
        for day, n in created_qs.annotate(day=_local_day("created_at", filters))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    }
    resolved_per_day = {
        _as_date(day): n
        for day, n in tickets.filter(resolved_in)
        .annotate(day=_local_day("resolved_at", filters))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    }
    days = []
    backlog = created_before - resolved_before
    day = filters.first_day
    while day <= filters.last_day:
        made, solved = created_per_day.get(day, 0), resolved_per_day.get(day, 0)
        backlog += made - solved
        days.append(Day(day=day, created=made, resolved=solved, backlog=backlog))
        day += timedelta(days=1)

    # 6. Distribution of the period's tickets, one grouped query for all three.
    groups = list(
        created_qs.values("category_id", "category__name", "priority", "source")
        .annotate(n=Count("pk"))
        .values_list("category_id", "category__name", "priority", "source", "n")
    )
    categories: dict[str, list[Any]] = {}
    priorities = dict.fromkeys(Priority.values, 0)
    channels: dict[str, int] = {}
    for category_id, category_name, priority, source, n in groups:
        key = str(category_id or "")
        categories.setdefault(key, [category_name or "", 0])[1] += n
        priorities[priority] = priorities.get(priority, 0) + n
        channels[source] = channels.get(source, 0) + n
    labels = dict(Source.choices)
    by_category = sorted(
        (Bucket(key=k, label=name, count=n) for k, (name, n) in categories.items()),
        key=lambda b: (-b.count, b.label),
    )
    by_priority = [
        Bucket(key=p, label=str(Priority(p).label), count=priorities.get(p, 0))
        for p in Priority.values
    ]
    channel_keys = [*CHANNELS, *sorted(set(channels) - set(CHANNELS))]
    by_channel = [
        Bucket(key=c, label=str(labels.get(c, c)), count=channels.get(c, 0))
        for c in channel_keys
        if c in CHANNELS or channels.get(c)
    ]

    # 7-8. Per agent: load now, the period's work, first response, satisfaction;
    # one grouped query per cohort, each served by its own index.
    rows: dict[int | None, dict[str, Any]] = {}

    def fold(qs: QuerySet[Ticket], **aggregates: Any) -> None:
        for row in qs.values(*who).annotate(**aggregates):
            rows.setdefault(row["assigned_to_id"], {}).update(row)

    fold(
        created_qs,
        assigned=Count("pk"),
        fr_mean=Avg(FIRST_RESPONSE, filter=responded),
    )
    fold(tickets.filter(resolved_in), resolved=Count("pk"))
    for row in open_rows:
        agent_row = rows.setdefault(row["assigned_to_id"], {})
        agent_row.update({k: row[k] for k in who})
        agent_row["open_now"] = agent_row.get("open_now", 0) + row["n"]
    # The web adapter's ratings, reached by their reverse name so that the
    # domain imports nothing from it.
    ratings: dict[int | None, tuple[int, float | None, str, str]] = {
        agent_id: (n, avg, name or "", email or "")
        for agent_id, name, email, n, avg in tickets.filter(
            filters.in_period("satisfaction__created_at")
        )
        .values(*who)
        .annotate(n=Count("satisfaction"), avg=Avg("satisfaction__score"))
        .values_list(*who, "n", "avg")
    }
    agents = []
    for agent_id, row in rows.items():
        n, avg, _name, _email = ratings.pop(agent_id, (0, None, "", ""))
        agents.append(
            AgentRow(
                agent_id=agent_id,
                name=row["assigned_to__full_name"] or "",
                email=row["assigned_to__email"] or "",
                open_now=row.get("open_now", 0),
                assigned=row.get("assigned", 0),
                resolved=row.get("resolved", 0),
                first_response=_seconds(row.get("fr_mean")),
                ratings=n,
                satisfaction=avg,
            )
        )
    # Ratings given in the period on tickets in none of the other cohorts.
    for agent_id, (n, avg, name, email) in ratings.items():
        agents.append(AgentRow(agent_id, name, email, 0, 0, 0, None, n, avg))
    agents.sort(key=lambda a: (a.agent_id is None, -a.open_now, -a.assigned, a.name or a.email))
    rated = sum(a.ratings for a in agents)
    score_sum = sum(a.ratings * a.satisfaction for a in agents if a.satisfaction is not None)

    # 9-12. Medians, one query each.
    first_response = _durations(
        created_qs.filter(responded), FIRST_RESPONSE, created["fr_count"], created["fr_mean"]
    )
    resolution = _durations(
        tickets.filter(resolved_in), RESOLUTION, done["resolved"], done["res_mean"]
    )
    first_response_business = resolution_business = None
    if business:
        first_response_business = _durations(
            created_qs.filter(first_response_business_seconds__isnull=False),
            F("first_response_business_seconds"),
            created["frb_count"],
            created["frb_mean"],
        )
        resolution_business = _durations(
            tickets.filter(resolved_in, resolution_business_seconds__isnull=False),
            F("resolution_business_seconds"),
            done["resb_count"],
            done["resb_mean"],
        )
    sla_ratio = None
    if sla:
        sla_ratio = Ratio(
            part=created["sla_response_met"] + created["sla_resolution_met"],
            whole=created["sla_response_measured"] + created["sla_resolution_measured"],
        )
    return Report(
        filters=filters,
        created=created["created"],
        resolved=done["resolved"],
        closed=closed,
        open_by_status={s: by_status.get(s, 0) for s in ACTIVE},
        first_response=first_response,
        resolution=resolution,
        first_response_business=first_response_business,
        resolution_business=resolution_business,
        days=days,
        by_category=by_category,
        by_priority=by_priority,
        by_channel=by_channel,
        agents=agents,
        reopened=Ratio(part=created["reopened"], whole=created["ever_resolved"]),
        satisfaction_count=rated,
        satisfaction_average=score_sum / rated if rated else None,
        sla=sla_ratio,
    )

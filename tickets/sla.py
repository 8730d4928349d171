"""The SLA clock: which policy a ticket has, when its targets are due.

A ticket's clock runs in business time (tickets.calendar, its team's
calendar or the default one) while it is open or in progress, and stops
while it waits on the customer, is resolved or closed. Every stop is counted
when it ends (Ticket.sla_paused_seconds) and the due times move on by it,
so both are always

    due = add_business_time(calendar, created_at, target + sla_paused_seconds)

and a change of priority, category or team recomputes them from scratch.
A target met (first response given, ticket resolved) keeps its due time.

These functions change the ticket in memory and return the fields they
changed; tickets.services saves them with the change that caused them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch

from tickets.calendar import Schedule, add_business_time, business_seconds, schedule_of
from tickets.models import BusinessCalendar, Holiday, SLAPolicy, Ticket, TicketEvent
from tickets.states import Status

RUNNING = frozenset({Status.OPEN, Status.IN_PROGRESS})
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
DUE_FIELDS = ["response_due_at", "resolution_due_at"]


def policy_for(ticket: Ticket, policies: Iterable[SLAPolicy] | None = None) -> SLAPolicy | None:
    """The most specific policy of the ticket's priority: category and team
    over category over team over neither."""
    if policies is None:
        policies = SLAPolicy.objects.filter(priority=ticket.priority)
    best: tuple[int, SLAPolicy] | None = None
    for policy in policies:
        if policy.priority != ticket.priority:
            continue
        if policy.category_id is not None and policy.category_id != ticket.category_id:
            continue
        if policy.team_id is not None and policy.team_id != ticket.team_id:
            continue
        score = 2 * (policy.category_id is not None) + (policy.team_id is not None)
        if best is None or score > best[0]:
            best = (score, policy)
    return best[1] if best else None


def schedule_for(ticket: Ticket) -> Schedule:
    """The business calendar of the ticket's team, else the default calendar,
    else around the clock. Holidays before the ticket was opened are not read."""
    calendar_id = ticket.team.calendar_id if ticket.team is not None else None
    calendars = BusinessCalendar.objects.prefetch_related(
        "hours",
        Prefetch(
            "holidays",
            queryset=Holiday.objects.filter(
                date__gte=ticket.created_at.date() - datetime.timedelta(days=1)
            ),
        ),
    )
    if calendar_id is not None:
        calendar = calendars.filter(pk=calendar_id).first()
    else:
        calendar = calendars.order_by("-is_default", "name").first()
    return schedule_of(calendar)


def paused_until(ticket: Ticket, schedule: Schedule, now: datetime.datetime) -> int:
    """The business seconds the clock has stood still so far, the stop under
    way included."""
    paused = ticket.sla_paused_seconds
    if ticket.sla_paused_at is not None:
        paused += business_seconds(schedule, ticket.sla_paused_at, now)
    return paused


def _due(schedule: Schedule, ticket: Ticket, minutes: int | None) -> datetime.datetime | None:
    if minutes is None:
        return None
    return add_business_time(schedule, ticket.created_at, minutes * 60 + ticket.sla_paused_seconds)


def sla_recompute(ticket: Ticket, schedule: Schedule | None = None) -> list[str]:
    """Set the due times of the targets not met yet from the ticket's policy
    (None without one)."""
    policy = policy_for(ticket)
    if policy is None and ticket.response_due_at is None and ticket.resolution_due_at is None:
        return []
    schedule = schedule or schedule_for(ticket)
    changed = []
    if ticket.first_response_at is None:
        due = _due(schedule, ticket, policy.first_response_minutes if policy else None)
        if due != ticket.response_due_at:
            ticket.response_due_at = due
            changed.append("response_due_at")
    if ticket.resolved_at is None:
        due = _due(schedule, ticket, policy.resolution_minutes if policy else None)
        if due != ticket.resolution_due_at:
            ticket.resolution_due_at = due
            changed.append("resolution_due_at")
    return changed


def sla_first_response(ticket: Ticket, now: datetime.datetime) -> list[str]:
    """first_response_at was just stamped: how long it took in business time."""
    schedule = schedule_for(ticket)
    assert ticket.first_response_at is not None
    taken = business_seconds(schedule, ticket.created_at, ticket.first_response_at)
    ticket.first_response_business_seconds = max(0, taken - paused_until(ticket, schedule, now))
    return ["first_response_business_seconds"]


def sla_transition(ticket: Ticket, old: str, new: str, now: datetime.datetime) -> list[str]:
    """The status moved from old to new (resolved_at already set for new):
    stop or restart the clock, and stamp the resolution's business time."""
    changed: list[str] = []
    schedule: Schedule | None = None
    if new == Status.RESOLVED or (new == Status.CLOSED and old != Status.RESOLVED):
        schedule = schedule_for(ticket)
        taken = business_seconds(schedule, ticket.created_at, now)
        ticket.resolution_business_seconds = max(0, taken - paused_until(ticket, schedule, now))
        changed.append("resolution_business_seconds")
    elif new in RUNNING and ticket.resolution_business_seconds is not None:
        ticket.resolution_business_seconds = None  # reopened
        changed.append("resolution_business_seconds")
    if old in RUNNING and new not in RUNNING:
        ticket.sla_paused_at = now
        changed.append("sla_paused_at")
    elif old not in RUNNING and new in RUNNING:
        schedule = schedule or schedule_for(ticket)
        if ticket.sla_paused_at is not None:
            ticket.sla_paused_seconds = paused_until(ticket, schedule, now)
            ticket.sla_paused_at = None
            changed += ["sla_paused_at", "sla_paused_seconds"]
        changed += sla_recompute(ticket, schedule)
    return changed


WARNING = "sla_warning"
BREACH = "sla_breach"


def warning_period() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(getattr(settings, "HELPDESK_SLA_WARNING_MINUTES", 60)))


def alert_due(
    ticket: Ticket, kind: str, target: str, now: datetime.datetime
) -> datetime.datetime | None:
    """The due time of target if an alert of kind is due for it now: a
    breach once the due time has passed, a warning within the warning period
    before it. None when the target is met, has no due time or the clock
    stands still."""
    if ticket.status not in RUNNING:
        return None
    if target == FIRST_RESPONSE:
        due = ticket.response_due_at if ticket.first_response_at is None else None
    else:
        due = ticket.resolution_due_at
    if due is None:
        return None
    if kind == BREACH:
        return due if due <= now else None
    return due if now < due <= now + warning_period() else None


def alerts_pending(now: datetime.datetime) -> list[tuple[Ticket, str, str]]:
    """(ticket, kind, target) for every alert due now and not recorded yet,
    oldest due first. A target already breached gets no warning."""
    soon = now + warning_period()
    running = Ticket.objects.filter(status__in=RUNNING)
    targets = {
        FIRST_RESPONSE: ("response_due_at", running.filter(first_response_at__isnull=True)),
        RESOLUTION: ("resolution_due_at", running),
    }
    found: list[tuple[datetime.datetime, int, Ticket, str, str]] = []
    for target, (field, tickets) in targets.items():
        for kind, window in ((BREACH, {"lte": now}), (WARNING, {"gt": now, "lte": soon})):
            recorded = TicketEvent.objects.filter(
                ticket=OuterRef("pk"), kind=kind, new_value=target
            )
            rows = tickets.filter(**{f"{field}__{op}": at for op, at in window.items()}).filter(
                ~Exists(recorded)
            )
            for ticket in rows.only("pk", field):
                found.append((getattr(ticket, field), ticket.pk, ticket, kind, target))
    found.sort(key=lambda row: row[:2])
    return [(ticket, kind, target) for _due, _pk, ticket, kind, target in found]

"""Agents' working hours set their availability (User.work_calendar).

At each start of the calendar's working time the agent becomes available, at
each end away. Only the changes of the schedule act: an agent who sets
themselves away at lunch stays away until the schedule next changes, so the
job (every 5 minutes, with sla_check) never overrides a choice made by hand.
"""

from __future__ import annotations

import datetime

from django.db.models import Prefetch
from django.utils import timezone

from helpdesk.models import User
from tickets.calendar import Schedule, is_working, schedule_of
from tickets.models import BusinessCalendar, Holiday


def availability_sync(*, now: datetime.datetime | None = None) -> int:
    """Apply the working hours of every agent who has them; how many changed."""
    now = now or timezone.now()
    agents = list(User.objects.filter(is_staff=True, is_active=True, work_calendar__isnull=False))
    calendars = BusinessCalendar.objects.filter(
        pk__in={a.work_calendar_id for a in agents}
    ).prefetch_related(
        "hours",
        Prefetch(
            "holidays",
            queryset=Holiday.objects.filter(
                date__gte=now.date() - datetime.timedelta(days=1),
                date__lte=now.date() + datetime.timedelta(days=1),
            ),
        ),
    )
    schedules: dict[int, Schedule] = {c.pk: schedule_of(c) for c in calendars}
    changed = 0
    for agent in agents:
        assert agent.work_calendar_id is not None
        working = is_working(schedules[agent.work_calendar_id], now)
        if agent.work_calendar_state == working:
            continue
        agent.work_calendar_state = working
        fields = ["work_calendar_state"]
        if agent.is_available != working:
            agent.is_available = working
            fields.append("is_available")
            changed += 1
        agent.save(update_fields=fields)
    return changed

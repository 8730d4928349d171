"""Which agent takes a new ticket: each team's Team.assignment.

- manual: nobody; the ticket waits in the team's queue.
- round_robin: the next available member after the one who took the last.
- least_open: the available member with the fewest active tickets, ties
  broken by the same rotation.

The rotation lives in the team's row (Team.rotation_cursor), read and moved
under a row lock in the ticket's transaction: two tickets arriving at once
from two processes queue on that row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's IMMEDIATE transactions take the database's write lock at BEGIN) and
go to different agents, and a restart loses nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from tickets.models import Team
from tickets.states import ACTIVE_STATUSES


def candidates(team: Team) -> list[Any]:
    """The members who may take tickets now, in rotation (id) order."""
    return list(
        team.members.filter(is_active=True, is_staff=True, is_available=True).order_by("id")
    )


def _after_cursor(members: list[Any], cursor: int) -> list[Any]:
    """members in rotation order starting after the one at cursor."""
    later = [m for m in members if m.pk > cursor]
    return later + [m for m in members if m.pk <= cursor]


def pick(team: Team) -> Any:
    """The agent who takes the team's next ticket (None: manual, or nobody
    available), with the rotation moved on. Call inside the ticket's transaction."""
    if team.assignment == Team.Assignment.MANUAL:
        return None
    locked = Team.objects.select_for_update().get(pk=team.pk)
    members = candidates(locked)
    if not members:
        return None
    ordered = _after_cursor(members, locked.rotation_cursor)
    if locked.assignment == Team.Assignment.LEAST_OPEN:
        load = dict(
            locked.members.filter(pk__in=[m.pk for m in members])
            .annotate(
                active=Count(
                    "tickets_assigned", filter=Q(tickets_assigned__status__in=ACTIVE_STATUSES)
                )
            )
            .values_list("pk", "active")
        )
        fewest = min(load.values())
        ordered = [m for m in ordered if load[m.pk] == fewest]
    chosen = ordered[0]
    Team.objects.filter(pk=locked.pk).update(rotation_cursor=chosen.pk)
    team.rotation_cursor = chosen.pk
    return chosen

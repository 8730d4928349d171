"""What each role's dashboard shows, in a fixed handful of queries: counts come
from one aggregate each, lists are short slices with their rows' relations
fetched in the same query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from helpdesk.models import User
from helpdesk.roles import STAFF_ROLES
from tickets import selectors
from tickets.models import Team, Ticket
from tickets.states import ACTIVE_STATUSES, Status

LIST_SIZE = 10
ACTIVE = list(ACTIVE_STATUSES)
# "Due soon" on the dashboards, as the list's "due=1" filter the tiles link to.
DUE_SOON = timedelta(hours=1)


def _sla(prefix: str = "") -> tuple[Q, Q]:
    """Tickets whose next SLA due time has passed, and those due within the hour."""
    now = timezone.now()
    due = f"{prefix}sla_due_at"
    return Q(**{f"{due}__lte": now}), Q(**{f"{due}__gt": now, f"{due}__lte": now + DUE_SOON})


def customer_dashboard(user: Any) -> dict[str, Any]:
    mine = selectors.ticket_list(user=user)
    counts = mine.aggregate(
        open=Count("pk", filter=Q(status__in=ACTIVE)),
        # Waiting on the customer: an answer, or a confirmation that it is solved.
        waiting=Count("pk", filter=Q(status__in=[Status.WAITING_CUSTOMER, Status.RESOLVED])),
    )
    return {
        "counts": counts,
        "waiting": list(
            mine.filter(status__in=[Status.WAITING_CUSTOMER, Status.RESOLVED])[:LIST_SIZE]
        ),
        "open": list(mine.filter(status__in=[Status.OPEN, Status.IN_PROGRESS])[:LIST_SIZE]),
    }


def _my_team_ids(user: Any) -> QuerySet[Team, int]:
    return Team.objects.filter(members=user).values_list("pk", flat=True)


def agent_dashboard(user: Any) -> dict[str, Any]:
    visible = selectors.ticket_list(user=user)
    teams = _my_team_ids(user)
    assigned = Q(assigned_to=user, status__in=ACTIVE)
    team_queue = Q(team__in=teams, assigned_to__isnull=True, status__in=ACTIVE)
    waiting = Q(status=Status.WAITING_CUSTOMER, assigned_to=user)
    breached, due_soon = _sla()
    counts = visible.aggregate(
        assigned=Count("pk", filter=assigned),
        team_unassigned=Count("pk", filter=team_queue),
        waiting=Count("pk", filter=waiting),
        all_active=Count("pk", filter=Q(status__in=ACTIVE)),
        sla_breached=Count("pk", filter=Q(assigned_to=user) & breached),
        sla_due_soon=Count("pk", filter=Q(assigned_to=user) & due_soon),
    )
    return {
        "counts": counts,
        "assigned": list(visible.filter(assigned).order_by("-updated_at")[:LIST_SIZE]),
        "team_unassigned": list(visible.filter(team_queue).order_by("-updated_at")[:LIST_SIZE]),
        "waiting": list(visible.filter(waiting).order_by("-updated_at")[:LIST_SIZE]),
        "recent": list(visible.order_by("-updated_at")[:LIST_SIZE]),
    }


def manager_dashboard(user: Any) -> dict[str, Any]:
    active = Q(ticket__status__in=ACTIVE)
    team_breached, _soon = _sla("ticket__")
    teams = Team.objects.annotate(
        active=Count("ticket", filter=active),
        unassigned=Count("ticket", filter=active & Q(ticket__assigned_to__isnull=True)),
        waiting=Count("ticket", filter=Q(ticket__status=Status.WAITING_CUSTOMER)),
        urgent=Count("ticket", filter=active & Q(ticket__priority="urgent")),
        sla_breached=Count("ticket", filter=team_breached),
    ).order_by("name")
    in_status = Q(tickets_assigned__status__in=ACTIVE)
    agents = (
        User.objects.filter(role__in=STAFF_ROLES, is_active=True)
        .annotate(
            active=Count("tickets_assigned", filter=in_status),
            waiting=Count(
                "tickets_assigned", filter=Q(tickets_assigned__status=Status.WAITING_CUSTOMER)
            ),
        )
        .order_by("-active", "full_name")
    )
    totals = Ticket.objects.aggregate(
        active=Count("pk", filter=Q(status__in=ACTIVE)),
        unassigned=Count("pk", filter=Q(status__in=ACTIVE, assigned_to__isnull=True)),
        no_team=Count("pk", filter=Q(status__in=ACTIVE, team__isnull=True)),
        resolved=Count("pk", filter=Q(status=Status.RESOLVED)),
        sla_breached=Count("pk", filter=_sla()[0]),
        sla_due_soon=Count("pk", filter=_sla()[1]),
    )
    return {"teams": list(teams), "agents": list(agents), "totals": totals}

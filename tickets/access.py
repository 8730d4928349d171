"""Who may see and do what on a ticket. The domain's only access policy.

Staff are told apart by Django's is_staff flag, which the user model derives
from the role, so the domain never imports the accounts app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from tickets.models import Ticket
from tickets.states import Status


def is_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def is_manager(user: Any) -> bool:
    return is_staff(user) and getattr(user, "role", "") in {"manager", "admin"}


def agents_see_all() -> bool:
    return bool(getattr(settings, "HELPDESK_AGENTS_SEE_ALL", True))


def visible_tickets(user: Any, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """The tickets user may read: customers their own, agents all (or their teams')."""
    qs = Ticket.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if is_manager(user) or (is_staff(user) and agents_see_all()):
        return qs
    if is_staff(user):
        return qs.filter(Q(team__members=user) | Q(assigned_to=user)).distinct()
    return qs.filter(created_by=user)


def can_view(user: Any, ticket: Ticket) -> bool:
    if not (user is not None and user.is_authenticated and user.is_active):
        return False
    if is_manager(user) or (is_staff(user) and agents_see_all()):
        return True
    if is_staff(user):
        return ticket.assigned_to_id == user.pk or (
            ticket.team is not None and ticket.team.members.filter(pk=user.pk).exists()
        )
    return bool(ticket.created_by_id == user.pk)


# The only status moves a customer may make on their own ticket: confirm a
# resolution, or reopen it.
CUSTOMER_MOVES = {
    (Status.RESOLVED, Status.CLOSED),
    (Status.RESOLVED, Status.OPEN),
    (Status.CLOSED, Status.OPEN),
    (Status.WAITING_CUSTOMER, Status.OPEN),
}


def require_view(user: Any, ticket: Ticket) -> None:
    if not can_view(user, ticket):
        raise PermissionDenied("You cannot access this ticket.")


def require_staff(user: Any, ticket: Ticket) -> None:
    if not (is_staff(user) and can_view(user, ticket)):
        raise PermissionDenied("Only staff can do this.")

"""Roles and the permission predicates every adapter asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from helpdesk.models import User


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


STAFF_ROLES = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})

# Model permissions each role's group gets by default. Admins can widen or
# narrow a single account through Django's own user/group permissions.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CUSTOMER: [],
    Role.AGENT: [
        "tickets.view_ticket",
        "tickets.change_ticket",
        "tickets.view_message",
        "tickets.add_message",
        "tickets.view_attachment",
        "tickets.view_category",
        "tickets.view_team",
        "tickets.view_ticketevent",
        "tickets.view_ticketcc",
    ],
    Role.MANAGER: [
        "tickets.view_ticket",
        "tickets.change_ticket",
        "tickets.view_message",
        "tickets.add_message",
        "tickets.view_attachment",
        "tickets.view_category",
        "tickets.add_category",
        "tickets.change_category",
        "tickets.view_team",
        "tickets.add_team",
        "tickets.change_team",
        "tickets.view_ticketevent",
        "tickets.view_ticketcc",
        "helpdesk.view_user",
    ],
    Role.ADMIN: [],  # superuser: every permission
}


def is_staff_member(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", None) in STAFF_ROLES)


def is_manager(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", None) in {Role.MANAGER, Role.ADMIN})


def is_admin(user: User | AnonymousUser) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (getattr(user, "role", None) == Role.ADMIN or user.is_superuser)
    )

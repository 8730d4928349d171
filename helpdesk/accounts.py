"""Accounts: creating people and keeping their role groups in step."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction

from helpdesk import audit
from helpdesk.models import User, normalize_email_address
from helpdesk.roles import ROLE_PERMISSIONS, Role

ROLE_GROUP_NAMES = {role: f"role:{role}" for role in Role.values}


def ensure_role_groups(using: str = "default") -> None:
    """One Django group per role with its default permissions; idempotent."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=ROLE_GROUP_NAMES[role])
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted += list(
                Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        with audit.quiet():
            group.permissions.add(*wanted)


@transaction.atomic
def user_set_role(*, user: User, role: str) -> User:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    user.role = role
    user.save()  # audited as the role change (helpdesk.audit)
    with audit.quiet():
        user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUP_NAMES.values()))
        group, _ = Group.objects.get_or_create(name=ROLE_GROUP_NAMES[role])
        user.groups.add(group)
    return user


def user_create(
    *,
    email: str,
    full_name: str = "",
    role: str = Role.CUSTOMER,
    password: str | None = None,
    **extra: Any,
) -> User:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    with transaction.atomic():
        user = User.objects.create_user(email, password, full_name=full_name, role=role, **extra)
        # A new user is in no group yet: join the role's group without
        # user_set_role's second save and group removal (every mail from a new
        # sender pays for this).
        group, _ = Group.objects.get_or_create(name=ROLE_GROUP_NAMES[role])
        with audit.quiet():
            user.groups.add(group)
        return user


def customer_get_or_create(*, email: str, full_name: str = "", language: str = "") -> User:
    """The account for a mail sender; a new one has no usable password and is
    claimed later through "forgot password"."""
    email = normalize_email_address(email)
    try:
        return User.objects.get(email=email)
    except User.DoesNotExist:
        pass
    extra = {"language": language} if language else {}
    try:
        # user_create's own atomic block undoes a clash on its own.
        return user_create(email=email, full_name=full_name[:150], **extra)
    except IntegrityError:
        # Two mails from the same new sender at once: the other one created it.
        return User.objects.get(email=email)


def user_availability_set(*, user: User, available: bool) -> User:
    """An agent says they are available (take new tickets, get new-ticket
    notices) or away."""
    if user.is_available != available:
        user.is_available = available
        user.save(update_fields=["is_available"])
    return user

"""The audit log of security-relevant actions outside tickets (AuditEntry).

`audit_record()` is the one writer. It is called directly where an action
happens in our code (API tokens, exports, quarantine releases) and from
signal receivers for what Django does on its own: sign-ins (auth signals),
every add, change and deletion made in the admin (its LogEntry), and group
and permission changes wherever they are made (m2m_changed). Signals are the
right tool here: they connect things that must not know about each other.

The request's actor and IP address reach the receivers through a context
variable set by AuditContextMiddleware, so a change made from the shell or a
command is recorded too, with no IP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.signals import m2m_changed, post_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from helpdesk.models import AuditEntry, User

log = logging.getLogger("helpdesk.audit")

Action = AuditEntry.Action

# (actor, ip) of the request being served, if any.
_request: ContextVar[tuple[Any, str | None] | None] = ContextVar("audit_request", default=None)
_quiet: ContextVar[bool] = ContextVar("audit_quiet", default=False)


@contextmanager
def quiet() -> Iterator[None]:
    """Group and permission bookkeeping that is not an admin's decision: the
    role groups kept in step at migrate, a new account joining its role's
    group, a role change (recorded once, as the role change itself)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def acting(request: HttpRequest) -> Iterator[None]:
    token = _request.set((getattr(request, "user", None), client_ip(request)))
    try:
        yield
    finally:
        _request.reset(token)


class AuditContextMiddleware:
    """Makes the request's user and IP known to audit_record() (after
    AuthenticationMiddleware, which sets request.user)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting(request):
            return self.get_response(request)


def audit_record(
    *,
    action: str,
    actor: Any = None,
    actor_email: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    detail: str = "",
    ip: str | None = None,
) -> AuditEntry:
    """Write one audit entry; actor and IP default to the current request's."""
    current = _request.get()
    if current is not None:
        actor = actor if actor is not None else current[0]
        ip = ip or current[1]
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_repr = object_repr or str(obj)
    entry = AuditEntry.objects.create(
        action=action,
        actor=actor,
        actor_email=actor_email or (actor.email if actor is not None else ""),
        ip=ip,
        object_type=object_type[:100],
        object_id=(str(obj.pk) if obj is not None and obj.pk is not None else object_id)[:64],
        object_repr=object_repr[:200],
        detail=detail[:4000],
    )
    log.info(
        "audit %s %s",
        action,
        entry.object_repr or "-",
        extra={
            "event": "audit",
            "action": action,
            "actor": entry.actor_email or None,
            "ip": ip,
            "object_type": entry.object_type or None,
            "object_id": entry.object_id or None,
        },
    )
    return entry


def prune(*, days: int | None = None) -> int:
    """Forget entries older than HELPDESK_AUDIT_DAYS; how many."""
    keep = days if days is not None else int(getattr(settings, "HELPDESK_AUDIT_DAYS", 365))
    deleted, _ = AuditEntry.objects.filter(at__lt=timezone.now() - timedelta(days=keep)).delete()
    return deleted


# --- receivers -----------------------------------------------------------------


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.LOGIN, actor=user, ip=client_ip(request) if request else None)


def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action=Action.LOGOUT, actor=user, ip=client_ip(request) if request else None)


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django hides the password in credentials already; only the typed address is kept.
    typed = str(credentials.get("username") or credentials.get("email") or "")[:254]
    audit_record(
        action=Action.LOGIN_FAILED,
        actor_email=typed,
        ip=client_ip(request) if request else None,
    )


_ADMIN_ACTIONS = {ADDITION: Action.CREATED, CHANGE: Action.CHANGED, DELETION: Action.DELETED}


def _admin_logged(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """Every add, change and deletion made in the admin: mailboxes, routing
    rules, webhooks, accounts and roles, groups, tokens, anything deleted."""
    if not created:
        return
    content_type = cast("ContentType | None", instance.content_type)
    audit_record(
        action=_ADMIN_ACTIONS.get(instance.action_flag, Action.CHANGED),
        actor=instance.user,
        object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        object_id=str(instance.object_id or ""),
        object_repr=instance.object_repr,
        detail=instance.get_change_message(),
    )


def _memberships_changed(
    sender: Any, instance: Any, action: str, pk_set: set[int] | None, model: Any, **kwargs: Any
) -> None:
    if action not in {"post_add", "post_remove", "post_clear"} or _quiet.get():
        return
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    names = sorted(str(o) for o in model.objects.filter(pk__in=pk_set or ()))
    audit_record(
        action=Action.PERMISSIONS,
        obj=instance,
        detail=f"{model._meta.verbose_name_plural} {verb}: {', '.join(names) or '-'}",
    )


def _role_changed(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    previous = getattr(instance, "_audit_role", None)
    if not created and previous is not None and previous != instance.role:
        audit_record(
            action=Action.PERMISSIONS, obj=instance, detail=f"role: {previous} → {instance.role}"
        )
    instance._audit_role = instance.role  # type: ignore[attr-defined]


def _remember_role(sender: Any, instance: User, **kwargs: Any) -> None:
    instance._audit_role = instance.__dict__.get("role")  # type: ignore[attr-defined]


def connect() -> None:
    auth_signals.user_logged_in.connect(_logged_in, dispatch_uid="audit_login")
    auth_signals.user_logged_out.connect(_logged_out, dispatch_uid="audit_logout")
    auth_signals.user_login_failed.connect(_login_failed, dispatch_uid="audit_login_failed")
    post_save.connect(_admin_logged, sender=LogEntry, dispatch_uid="audit_admin_log")
    models.signals.post_init.connect(_remember_role, sender=User, dispatch_uid="audit_role_init")
    post_save.connect(_role_changed, sender=User, dispatch_uid="audit_role")
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_memberships_changed, sender=through, dispatch_uid=f"audit_{through}")

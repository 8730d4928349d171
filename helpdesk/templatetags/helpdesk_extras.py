"""Template tags that drop the web panel's extras into pages web-core owns:
{% nav_extras %} in the nav, {% ticket_extras ticket %} beside a ticket."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from helpdesk import resolution
from helpdesk.models import SatisfactionRating
from helpdesk.notifications import unread_count
from tickets import access
from tickets.models import Ticket
from tickets.states import Status

register = template.Library()


def _unread(request: Any) -> int:
    """The signed-in user's unread count, counted once per request (two bells use it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    if not hasattr(request, "_helpdesk_unread"):
        request._helpdesk_unread = unread_count(user)
    return int(request._helpdesk_unread)


def poll_seconds() -> int:
    """How often the bell asks for the unread count (tests shorten it)."""
    return int(getattr(settings, "HELPDESK_NOTIFICATION_POLL_SECONDS", 20))


def presence_seconds() -> int:
    """How often an open ticket page sends a presence heartbeat."""
    return int(getattr(settings, "HELPDESK_PRESENCE_SECONDS", 15))


@register.inclusion_tag("helpdesk/partials/nav_extras.html", takes_context=True)
def nav_extras(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "request": request,
        "user": user,
        "signed_in": signed_in,
        "is_staff": access.is_staff(user),
        "unread": _unread(request),
        "poll_seconds": poll_seconds(),
        "languages": settings.LANGUAGES,
        "csrf_token": context.get("csrf_token"),
        "LANGUAGE_CODE": context.get("LANGUAGE_CODE"),
    }


@register.inclusion_tag("helpdesk/partials/compact_bell.html", takes_context=True)
def compact_bell(context: template.Context) -> dict[str, Any]:
    """The phone-width bell: the same count, kept in step with the polled one
    by static/js/shortcuts.js (no second poller)."""
    return {"unread": _unread(context.get("request"))}


@register.inclusion_tag("helpdesk/partials/ticket_extras.html", takes_context=True)
def ticket_extras(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    staff = access.is_staff(user)
    requester = resolution.is_requester(user, ticket)
    rating = None
    if staff or ticket.status == "closed":
        rating = SatisfactionRating.objects.filter(ticket=ticket).first()
    return {
        "request": request,
        "ticket": ticket,
        "is_staff": staff,
        "is_manager": access.is_manager(user),
        "can_confirm": requester and resolution.can_confirm(user, ticket),
        "can_reopen": requester and resolution.can_reopen(user, ticket),
        "can_rate": requester and ticket.status == "closed" and rating is None,
        "rating": rating if (staff or requester) else None,
        "presence_seconds": presence_seconds(),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def status_name(value: str) -> str:
    """The translated label of a status value ("resolved" -> "Resolvido")."""
    return str(dict(Status.choices).get(value, value))


@register.filter
def stars(score: int | None) -> str:
    """★★★☆☆ for 3; text, so screen readers also get the number beside it."""
    if not score:
        return ""
    return "\u2605" * int(score) + "\u2606" * (5 - int(score))

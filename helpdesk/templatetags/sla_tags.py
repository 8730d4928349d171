"""SLA due times as staff read them: "vence em 2 h", "venceu há 30 min" (red),
"pausado" while the customer has the ticket. Reads only the ticket's own
columns, so a list row costs no query."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk.templatetags.helpdesk_tags import datefmt
from tickets import sla
from tickets.models import Ticket
from tickets.states import Status

register = template.Library()


def span(seconds: float) -> str:
    """A short duration: "45 min", "5 h", "3 dias"."""
    minutes = max(1, int(seconds // 60))
    if minutes < 60:
        return _("%(n)d min") % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return _("%(n)d h") % {"n": hours}
    days = hours // 24
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


def _time(due: datetime, css: str, text: str) -> SafeString:
    local = timezone.localtime(due)
    return format_html(
        '<time class="sla-due {}" datetime="{}" title="{}">{}</time>',
        css,
        local.isoformat(),
        datefmt(local, "SHORT_DATETIME_FORMAT"),
        text,
    )


def due_html(due: datetime, now: datetime | None = None) -> SafeString:
    """A running target's due time: red once breached, amber within the warning period."""
    now = now or timezone.now()
    left = (due - now).total_seconds()
    if left <= 0:
        return _time(due, "text-danger fw-semibold sla-breached", _("due %(time)s ago") % {
            "time": span(-left)
        })  # fmt: skip
    css = "text-warning-emphasis sla-soon" if due - now <= sla.warning_period() else "sla-ok"
    return _time(due, css, _("due in %(time)s") % {"time": span(left)})


@register.simple_tag
def sla_target(ticket: Ticket, target: str) -> SafeString | str:
    """One target of the ticket: its due time, "met" (or "met late"), or
    "paused" while the clock stands still; empty without a target."""
    if target == sla.FIRST_RESPONSE:
        due, done = ticket.response_due_at, ticket.first_response_at
    else:
        due, done = ticket.resolution_due_at, ticket.resolved_at
    if due is None:
        return ""
    if done is not None:
        if done <= due:
            return _time(due, "text-success sla-met", _("met"))
        return _time(due, "text-danger sla-met-late", _("met late"))
    if ticket.status == Status.WAITING_CUSTOMER:
        return _time(due, "text-body-secondary sla-paused", _("paused"))
    if ticket.status not in sla.RUNNING:
        return ""
    return due_html(due)


@register.simple_tag
def sla_next(ticket: Ticket) -> SafeString | str:
    """The list's Due cell: the next due time of a running ticket, "paused"
    for one waiting on the customer with a target still open, else nothing."""
    if ticket.sla_due_at is not None:
        return due_html(ticket.sla_due_at)
    if ticket.status != Status.WAITING_CUSTOMER:
        return ""
    if (ticket.response_due_at and ticket.first_response_at is None) or ticket.resolution_due_at:
        return format_html('<span class="text-body-secondary sla-paused">{}</span>', _("paused"))
    return ""

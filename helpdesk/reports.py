"""The reports as people read them: the charts' data, the CSV rows, durations
in words. The numbers themselves come from tickets.metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from tickets.metrics import Durations, Report
from tickets.states import Status


def duration_text(seconds: float | None) -> str:
    """'45 min', '3 h 20 min', '2 d 4 h'; an em dash for no value (or for a
    template variable that is missing: an edited template must not break a mail)."""
    if not isinstance(seconds, int | float):
        return "—"
    minutes = round(seconds / 60)
    if minutes < 1:
        return _("under a minute")
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
        return _("%(h)d h") % {"h": hours}
    days, hours = divmod(hours, 24)
    if hours:
        return ngettext("%(d)d day %(h)d h", "%(d)d days %(h)d h", days) % {"d": days, "h": hours}
    return ngettext("%(d)d day", "%(d)d days", days) % {"d": days}


def percent(share: float | None) -> str:
    if not isinstance(share, int | float):
        return "—"
    return f"{formats.number_format(100 * share, 0)} %"


def agent_name(row: Any) -> str:
    if row.agent_id is None:
        return _("Unassigned")
    return str(row.name or row.email)


def chart_data(report: Report) -> dict[str, Any]:
    """What static/js/reports.js draws, labels already translated."""
    agents = report.agents[:15]
    return {
        "days": [formats.date_format(d.day, "SHORT_DATE_FORMAT") for d in report.days],
        "created": [d.created for d in report.days],
        "resolved": [d.resolved for d in report.days],
        "backlog": [d.backlog for d in report.days],
        "categories": {
            "labels": [b.label or _("No category") for b in report.by_category],
            "counts": [b.count for b in report.by_category],
        },
        "agents": {
            "labels": [agent_name(a) for a in agents],
            "open": [a.open_now for a in agents],
            "assigned": [a.assigned for a in agents],
        },
        "text": {
            "created": pgettext("tickets", "Created"),
            "resolved": pgettext("tickets", "Resolved"),
            "backlog": _("Open at the end of the day"),
            "tickets": _("Tickets"),
            "open_now": _("Open now"),
            "assigned": _("Assigned in the period"),
        },
    }


def _safe_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @) is quoted."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def _number(value: float | None, digits: int = 0) -> Any:
    if value is None:
        return ""
    return round(value) if digits == 0 else round(value, digits)


def _durations(name: str, durations: Durations | None) -> Iterator[tuple[str, str, str, Any]]:
    if durations is None:
        return
    yield "summary", "", f"{name}_count", durations.count
    yield "summary", "", f"{name}_median_seconds", _number(durations.median)
    yield "summary", "", f"{name}_mean_seconds", _number(durations.mean)


def csv_rows(report: Report, *, team_name: str = "") -> Iterator[tuple[str, str, str, Any]]:
    """The dashboard's numbers, one (section, key, metric, value) row each:
    stable English names for scripts and spreadsheets; durations in seconds,
    shares as fractions."""
    f = report.filters
    yield "filter", "", "first_day", f.first_day.isoformat()
    yield "filter", "", "last_day", f.last_day.isoformat()
    yield "filter", "", "team", _safe_cell(team_name)
    yield "filter", "", "channel", f.channel
    yield "summary", "", "created", report.created
    yield "summary", "", "resolved", report.resolved
    yield "summary", "", "closed", report.closed
    yield "summary", "", "open_now", report.open_now
    yield from _durations("first_response", report.first_response)
    yield from _durations("resolution", report.resolution)
    yield from _durations("first_response_business", report.first_response_business)
    yield from _durations("resolution_business", report.resolution_business)
    yield "summary", "", "reopened", report.reopened.part
    yield "summary", "", "reopen_rate", _number(report.reopened.share, 4)
    yield "summary", "", "satisfaction_ratings", report.satisfaction_count
    yield "summary", "", "satisfaction_average", _number(report.satisfaction_average, 2)
    if report.sla is not None:
        yield "summary", "", "sla_measured", report.sla.whole
        yield "summary", "", "sla_met", report.sla.part
        yield "summary", "", "sla_met_share", _number(report.sla.share, 4)
    for status, count in report.open_by_status.items():
        yield "open_now", status, "tickets", count
    for day in report.days:
        key = day.day.isoformat()
        yield "day", key, "created", day.created
        yield "day", key, "resolved", day.resolved
        yield "day", key, "backlog", day.backlog
    for bucket in report.by_category:
        yield "category", _safe_cell(bucket.label), "tickets", bucket.count
    for bucket in report.by_priority:
        yield "priority", bucket.key, "tickets", bucket.count
    for bucket in report.by_channel:
        yield "channel", bucket.key, "tickets", bucket.count
    for agent in report.agents:
        key = _safe_cell(agent.email) if agent.agent_id is not None else "unassigned"
        yield "agent", key, "open_now", agent.open_now
        yield "agent", key, "assigned", agent.assigned
        yield "agent", key, "resolved", agent.resolved
        yield "agent", key, "first_response_mean_seconds", _number(agent.first_response)
        yield "agent", key, "satisfaction_ratings", agent.ratings
        yield "agent", key, "satisfaction_average", _number(agent.satisfaction, 2)


def status_rows(report: Report) -> list[tuple[str, str, int]]:
    return [(s, str(Status(s).label), n) for s, n in report.open_by_status.items()]

"""Filters for the reports pages: durations in words, shares as percents."""

from __future__ import annotations

from django import template

from helpdesk import reports

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    return reports.duration_text(seconds)


@register.filter
def percent(share: float | None) -> str:
    return reports.percent(share)


@register.filter
def agent_name(row: object) -> str:
    return reports.agent_name(row)

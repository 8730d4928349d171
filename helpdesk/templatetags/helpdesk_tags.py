"""Small template helpers for the web pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField
from django.http import QueryDict
from django.utils.safestring import SafeString

from tickets.states import Priority, Status

register = template.Library()

STATUS_CLASSES: dict[str, str] = {
    Status.OPEN: "status-open",
    Status.IN_PROGRESS: "status-in-progress",
    Status.WAITING_CUSTOMER: "status-waiting",
    Status.RESOLVED: "status-resolved",
    Status.CLOSED: "status-closed",
}
PRIORITY_CLASSES: dict[str, str] = {
    Priority.LOW: "priority-low",
    Priority.MEDIUM: "priority-medium",
    Priority.HIGH: "priority-high",
    Priority.URGENT: "priority-urgent",
}


@register.filter
def status_class(value: str) -> str:
    return STATUS_CLASSES.get(value, "status-closed")


@register.filter
def priority_class(value: str) -> str:
    return PRIORITY_CLASSES.get(value, "priority-medium")


@register.filter
def status_label(value: str) -> str:
    """The translated label of a status value stored as text (audit rows)."""
    return str(Status(value).label) if value in Status.values else value


@register.filter
def priority_label(value: str) -> str:
    return str(Priority(value).label) if value in Priority.values else value


@register.filter
def widget(field: BoundField) -> SafeString:
    """The field's widget with Bootstrap classes and its help/error ids wired up."""
    kind = field.widget_type
    if kind in {"select", "selectmultiple"}:
        css = "form-select"
    elif kind == "checkbox":
        css = "form-check-input"
    else:
        css = "form-control"
    attrs: dict[str, Any] = {"class": css + (" is-invalid" if field.errors else "")}
    described = [f"{field.auto_id}_error"]
    if field.help_text:
        described.insert(0, f"{field.auto_id}_helptext")
    attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some keys replaced (None removes a key)."""
    request = context["request"]
    params: QueryDict = request.GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_link(context: dict[str, Any], key: str) -> str:
    """The list URL sorting by key, flipping direction when it is the current sort."""
    current = context.get("sort", "")
    new = f"-{key}" if current == key else key
    return query_with(context, sort=new, page=None)


@register.simple_tag(takes_context=True)
def aria_sort(context: dict[str, Any], key: str) -> str:
    current = context.get("sort", "")
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"

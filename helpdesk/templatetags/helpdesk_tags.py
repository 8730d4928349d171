"""Small template helpers for the web pages."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from django import forms, template
from django.forms import BoundField
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.utils import formats, timezone
from django.utils.dateformat import DateFormat
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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


@register.filter(expects_localtime=True)
def iso(value: Any) -> str:
    """What |date:'c' gives (local time, ISO 8601), for <time datetime>, at a
    tenth of the cost: a 200-message thread formats 200 of them."""
    return value.isoformat() if hasattr(value, "isoformat") else ""


def widget_attrs(field: BoundField) -> dict[str, Any]:
    """Bootstrap classes and the help/error ids for the field's widget."""
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
    return attrs


# Django's DateFormat.format() splits the format string on every call; a
# 200-message thread formats the same string 400 times. The pieces are the
# same for a given format, so they are split once here and DateFormat's own
# per-letter methods fill them in: the output is Django's, in a third of the time.
_FORMAT_LETTERS = re.compile(r"(?<!\\)([aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ])")


@functools.lru_cache(maxsize=64)
def _format_pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    return tuple(
        (True, piece) if index % 2 else (False, re.sub(r"\\(.)", r"\1", piece))
        for index, piece in enumerate(_FORMAT_LETTERS.split(format_string))
    )


@register.filter(expects_localtime=True)
def datefmt(value: Any, format_name: str = "DATETIME_FORMAT") -> str:
    """What |date:format_name gives (a named format such as "SHORT_DATETIME_FORMAT"
    in the active language, or a format string), at a third of the cost."""
    if value in (None, ""):
        return ""
    formatter = DateFormat(value)
    pieces = _format_pieces(str(formats.get_format(format_name)))
    return "".join(str(getattr(formatter, text)()) if letter else text for letter, text in pieces)


@register.filter(expects_localtime=True)
def ago(value: Any) -> str:
    """How long ago, for lists and threads: "agora", "há 5 min", "há 3 h",
    "há 2 dias"; after a week the date itself (datefmt's SHORT_DATETIME_FORMAT).
    Templates put the absolute time beside it, in the <time> element's title."""
    if not isinstance(value, datetime):
        return datefmt(value, "SHORT_DATETIME_FORMAT")
    seconds = (timezone.now() - value).total_seconds()
    if seconds < 60:
        return _("just now")
    minutes = int(seconds // 60)
    if minutes < 60:
        return _("%(n)d min ago") % {"n": minutes}
    hours = minutes // 60
    if hours < 24:
        return _("%(n)d h ago") % {"n": hours}
    days = hours // 24
    if days < 7:
        return ngettext("%(n)d day ago", "%(n)d days ago", days) % {"n": days}
    return datefmt(value, "SHORT_DATETIME_FORMAT")


@register.filter
def widget(field: BoundField) -> SafeString:
    """The field's widget with Bootstrap classes and its help/error ids wired up."""
    attrs = widget_attrs(field)
    if _plain_select(field):
        return _select_html(field, attrs)
    return field.as_widget(attrs=attrs)


# Django renders a select through one template per option; the ticket list's
# filters and the ticket page's properties have a hundred options between
# them. Plain selects are written here instead, byte for byte what Django's
# templates write (tests/helpdesk/test_widgets.py compares the two).
_SELECT_TEMPLATES = ("django/forms/widgets/select.html", "django/forms/widgets/select_option.html")


def _plain_select(field: BoundField) -> bool:
    widget = field.field.widget
    return (
        type(widget) in (forms.Select, forms.SelectMultiple)
        and (widget.template_name, widget.option_template_name) == _SELECT_TEMPLATES
        and type(field.form.renderer) is DjangoTemplates
    )


def _attrs_html(attrs: dict[str, Any]) -> str:
    # As django/forms/widgets/attrs.html: False drops the attribute, True leaves its name.
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


def _select_html(field: BoundField, attrs: dict[str, Any]) -> SafeString:
    """What field.as_widget(attrs=attrs) gives for a plain select."""
    widget = field.field.widget
    if field.field.localize:
        widget.is_localized = True
    attrs = field.build_widget_attrs(attrs, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    parts = [
        f'<select name="{conditional_escape(context["name"])}"{_attrs_html(context["attrs"])}>'
    ]
    for group, options, _index in context["optgroups"]:
        if group:
            parts.append(f'\n  <optgroup label="{conditional_escape(group)}">')
        parts.extend(
            f'\n  <option value="{conditional_escape(str(option["value"]))}"'
            f"{_attrs_html(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
            for option in options
        )
        if group:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece escaped above


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


@register.filter
def routed_by(value: str) -> str:
    """Ticket.routed_by in the reader's language ("rule “Financeiro”")."""
    from tickets.routing import routed_by_label

    return routed_by_label(value)

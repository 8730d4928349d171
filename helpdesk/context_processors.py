"""What every page's template may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helpdesk.plugins import nav_items
from outbound.conf import support_name


def brand(request: HttpRequest) -> dict[str, Any]:
    """The helpdesk's name, the same one its mails carry (outbound.conf.support_name)."""
    return {"brand": support_name()}


def plugin_nav(request: HttpRequest) -> dict[str, Any]:
    """The plugins' navigation entries for this user (helpdesk.plugins.add_nav_item)."""
    return {"plugin_nav": nav_items(request)}

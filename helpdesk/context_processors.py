"""What every page's template may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from outbound.conf import support_name


def brand(request: HttpRequest) -> dict[str, Any]:
    """The helpdesk's name, the same one its mails carry (outbound.conf.support_name)."""
    return {"brand": support_name()}

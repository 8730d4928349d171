"""Configuration checks, shown by `manage.py check` and at startup."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_mail_settings(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if "@" not in settings.HELPDESK_SUPPORT_ADDRESS:
        problems.append(
            Error(
                "HELPDESK_SUPPORT_ADDRESS is not an email address.",
                hint="Set it to the address customers write to, e.g. support@example.com.",
                id="helpdesk.E001",
            )
        )
    host = urlsplit(settings.HELPDESK_BASE_URL).hostname or ""
    allowed = settings.ALLOWED_HOSTS
    if (
        not settings.DEBUG
        and "*" not in allowed
        and host
        and not any(host == h or (h.startswith(".") and host.endswith(h)) for h in allowed)
    ):
        problems.append(
            Warning(
                f"HELPDESK_BASE_URL's host {host!r} is not in ALLOWED_HOSTS.",
                hint="Links in mails would point to a host this server refuses.",
                id="helpdesk.W001",
            )
        )
    return problems

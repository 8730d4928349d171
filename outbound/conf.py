"""Outbound settings with their defaults (config/settings.py reads the env)."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.utils.translation import gettext

# 1 min, doubling, capped at 6 h: 1, 2, 4, 8, 16, 32 min, 1 h 4 min, ... 6 h.
DEFAULT_BACKOFF = [min(60 * 2**n, 6 * 3600) for n in range(10)]


def backoff_schedule() -> list[int]:
    schedule = list(getattr(settings, "HELPDESK_OUTBOX_BACKOFF", None) or DEFAULT_BACKOFF)
    return [max(0, int(s)) for s in schedule] or DEFAULT_BACKOFF


def backoff_seconds(attempts: int) -> int:
    """The wait after the attempts-th failed try (the last step repeats)."""
    schedule = backoff_schedule()
    return schedule[min(max(attempts, 1), len(schedule)) - 1]


def max_attempts() -> int:
    return max(1, int(getattr(settings, "HELPDESK_OUTBOX_MAX_ATTEMPTS", 12)))


def sending_timeout() -> int:
    """Seconds after which a 'sending' item is taken to belong to a dead worker."""
    return max(30, int(getattr(settings, "HELPDESK_OUTBOX_SENDING_TIMEOUT", 600)))


def webhook_timeout() -> tuple[float, float]:
    return (5.0, 5.0)


def support_name() -> str:
    """The helpdesk's name, in the pages' header, in mails and as the name mail
    is sent under ("Ana via Central de atendimento"): HELPDESK_SUPPORT_NAME, else
    the name in DEFAULT_FROM_EMAIL, else "Helpdesk" in the active language."""
    configured = getattr(settings, "HELPDESK_SUPPORT_NAME", "")
    if configured:
        return str(configured)
    name, _ = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return name or gettext("Helpdesk")

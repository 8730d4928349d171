"""ESP tracking webhooks (django-anymail): a bounce or a rejection marks the
recipient as bouncing, so no more mail is sent to it until an admin clears it."""

from __future__ import annotations

from typing import Any

from outbound.bounces import mark_bouncing

BOUNCE_EVENTS = frozenset({"bounced", "rejected"})


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    if getattr(event, "event_type", "") not in BOUNCE_EVENTS or not getattr(event, "recipient", ""):
        return
    reason = " ".join(
        str(part)
        for part in (esp_name, event.event_type, event.reject_reason, event.description)
        if part
    )
    mark_bouncing(email=event.recipient, reason=reason[:500])

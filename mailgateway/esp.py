"""ESP inbound webhooks (django-anymail): Mailgun, Postmark, SendGrid, Amazon SES.

anymail validates the request (basic auth against ANYMAIL["WEBHOOK_SECRET"], and
Mailgun's HMAC signature), parses it and sends the `inbound` signal; we hand the
raw MIME to the one pipeline. The signal runs inside anymail's view, so the ESP
gets its 200 only after ingest_raw_email committed the mail (durability rule 2).
A transient failure must make the ESP retry: Postmark, for one, stops retrying
at the first 403, so TransientFailureMiddleware turns it into a 503.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import ingest_raw_email

log = logging.getLogger(__name__)

RETRY_AFTER = "120"  # seconds; a hint, ESPs follow their own schedules


class WebhookNotConfigured(Exception):
    """No webhook secret: refuse to ingest, but make the ESP keep the mail."""


def raw_mime(event: Any) -> bytes:
    """The mail's bytes as the ESP sent them, when it sent them; else re-serialised."""
    esp_event = event.esp_event
    if isinstance(esp_event, HttpRequest):
        # Mailgun's forward() to a ".../inbound_mime/" URL sends "body-mime";
        # SendGrid's Inbound Parse with "POST the raw, full MIME message" sends "email".
        for name in ("body-mime", "email"):
            if name in esp_event.POST:
                return str(esp_event.POST[name]).encode("utf-8", "surrogateescape")
    elif isinstance(esp_event, dict):
        if isinstance(esp_event.get("RawEmail"), str):  # Postmark, "include raw email"
            return str(esp_event["RawEmail"]).encode("utf-8", "surrogateescape")
        action = esp_event.get("receipt", {}).get("action", {})
        content = esp_event.get("content")
        if action.get("type") == "SNS" and isinstance(content, str):  # Amazon SES via SNS
            if action.get("encoding") == "BASE64":
                try:
                    return base64.b64decode(content, validate=False)
                except (binascii.Error, ValueError):
                    pass
            else:
                return content.encode("utf-8", "surrogateescape")
    data: bytes = event.message.as_bytes()
    return data


def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """anymail.signals.inbound receiver: store the mail or raise (never swallow)."""
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        raise WebhookNotConfigured(
            "ANYMAIL_WEBHOOK_SECRET is not set: inbound webhooks are refused (503) so the "
            "ESP keeps the mail until it is"
        )
    message = event.message
    recipient = getattr(message, "envelope_recipient", None)
    try:
        result = ingest_raw_email(
            raw_mime(event),
            door="esp",
            envelope_from=getattr(message, "envelope_sender", None) or "",
            envelope_rcpts=[recipient] if recipient else (),
            mailbox=esp_name.lower(),
        )
    except InboundRejected as exc:
        # Permanent: answering 2xx ends the ESP's retries; the log keeps the reason.
        log.info("%s inbound %s refused: %s", esp_name, event.event_id or "-", exc)
        return
    log.info(
        "%s inbound %s: %s %s",
        esp_name,
        event.event_id or "-",
        result.outcome,
        result.reference or "-",
    )


class TransientFailureMiddleware:
    """Answer 503 (never 4xx) when an ESP webhook could not store its mail."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or "anymail" not in match.namespaces:
            return None
        if not isinstance(exc, InboundError | DatabaseError | WebhookNotConfigured):
            return None  # Django's 500, which ESPs retry too
        log.error("ESP webhook %s: mail not stored, ESP will retry: %s", request.path, exc)
        response = HttpResponse(
            "temporarily unable to store the mail\n", status=503, content_type="text/plain"
        )
        response["Retry-After"] = RETRY_AFTER
        return response

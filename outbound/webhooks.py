"""Signed webhook calls: which ticket events become which, what they carry,
and how one is posted.

Receivers verify X-Helpdesk-Signature, the hex HMAC-SHA256 of
"<X-Helpdesk-Timestamp>.<raw body>" keyed with the endpoint's secret, and
reject old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from outbound import netguard
from outbound.conf import webhook_timeout
from outbound.enqueue import outbox_add
from outbound.errors import DeliveryError, Outcome
from outbound.mails import ticket_url
from outbound.models import OutboxItem, WebhookEndpoint, WebhookEvent
from tickets.events import TicketChanged
from tickets.models import Ticket
from tickets.states import Priority, Status


def webhook_events(event: TicketChanged) -> list[str]:
    """The webhook events a ticket change fires (none for notes or quiet entries)."""
    kind = event.kind
    if kind == "created":
        return [str(WebhookEvent.TICKET_CREATED)]
    if kind == "reply":
        return [str(WebhookEvent.REPLY_ADDED)]
    if kind == "status":
        names: list[str] = [WebhookEvent.STATUS_CHANGED]
        if event.new == Status.RESOLVED:
            names.append(WebhookEvent.TICKET_RESOLVED)
        return names
    if kind == "priority":
        return [str(WebhookEvent.PRIORITY_CHANGED)]
    if kind == "assignee" and event.new:
        return [str(WebhookEvent.TICKET_ASSIGNED)]
    return []


def _person(user: Any) -> dict[str, str] | None:
    if user is None:
        return None
    return {"name": str(user.get_full_name()), "email": str(user.email)}


def ticket_payload(
    ticket: Ticket, event_name: str, *, old: str = "", new: str = "", actor: Any = None
) -> dict[str, Any]:
    return {
        "event": event_name,
        "id": uuid.uuid4().hex,
        "occurred_at": timezone.now().isoformat(),
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "requester": _person(ticket.created_by),
        "assignee": _person(ticket.assigned_to) if ticket.assigned_to_id else None,
        "team": str(ticket.team) if ticket.team_id else None,
        "url": ticket_url(ticket),
        "actor": _person(actor) if getattr(actor, "pk", None) else None,
        "old": old,
        "new": new,
    }


def slack_text(data: dict[str, Any]) -> str:
    """One readable line for a chat channel, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        event = str(_choice_label(WebhookEvent, data["event"], _event_label(data["event"])))
        status = str(_choice_label(Status, data["status"], data["status"]))
        priority = str(_choice_label(Priority, data["priority"], data["priority"]))
        assignee = data.get("assignee") or {}
        assigned = ""
        if data["event"] == WebhookEvent.TICKET_ASSIGNED and assignee:
            name = assignee.get("name") or assignee.get("email") or ""
            assigned = " · " + _("assigned to %(name)s") % {"name": _slack_escape(name)}
    who = (data.get("requester") or {}).get("name") or (data.get("requester") or {}).get("email")
    text = f"*{event}*: <{data['url']}|{data['reference']}> {_slack_escape(data['subject'])}"
    return f"{text} ({status}, {priority}){' - ' + _slack_escape(who) if who else ''}{assigned}"


def _event_label(event: str) -> str:
    return gettext("Test event") if event == TEST_EVENT else event


def _choice_label(choices: Any, value: str, default: str) -> Any:
    try:
        return choices(value).label
    except ValueError:
        return default


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_body(endpoint: WebhookEndpoint, data: dict[str, Any]) -> str:
    if endpoint.format == WebhookEndpoint.Format.SLACK:
        return json.dumps({"text": slack_text(data)}, ensure_ascii=False)
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def enqueue_webhook(endpoint: WebhookEndpoint, data: dict[str, Any], ticket: Ticket | None) -> None:
    outbox_add(
        [
            OutboxItem(
                kind=OutboxItem.Kind.WEBHOOK,
                event=data["event"],
                recipient=endpoint.url[:500],
                endpoint=endpoint,
                ticket=ticket,
                dedupe_key=f"hook:{endpoint.pk}:{data['id']}",
                payload={"body": render_body(endpoint, data)},
            )
        ]
    )


def on_ticket_changed(changes: Sequence[TicketChanged]) -> None:
    fired = [(c, names) for c in changes if not c.quiet and (names := webhook_events(c))]
    if not fired:
        return
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    if not endpoints:
        return
    for change, names in fired:
        for name in names:
            targets = [e for e in endpoints if name in (e.events or [])]
            if not targets:
                continue
            data = ticket_payload(
                change.ticket, name, old=change.old, new=change.new, actor=change.actor
            )
            for endpoint in targets:
                enqueue_webhook(endpoint, {**data, "id": uuid.uuid4().hex}, change.ticket)


def sign(secret: str, timestamp: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: str, signature: str, max_age: int = 300) -> bool:
    """What a receiver does (also used by our tests)."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= max_age
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def post(item: OutboxItem) -> Outcome:
    """One delivery attempt of a webhook row; DeliveryError when it did not land."""
    endpoint = item.endpoint
    if endpoint is None or not endpoint.is_active:
        raise DeliveryError("the endpoint was removed or deactivated", skip=True)
    try:
        netguard.check_target(endpoint.url, allow_private=endpoint.allow_private)
    except netguard.UnsafeURL as exc:
        raise DeliveryError(f"refused: {exc}", permanent=True) from None
    body = str(item.payload.get("body", ""))
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Helpdesk-Webhooks/1.0",
        "X-Helpdesk-Event": item.event,
        "X-Helpdesk-Delivery": str(item.pk),
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": sign(endpoint.secret, timestamp, body),
    }
    http = netguard.session(allow_private=endpoint.allow_private)
    try:
        # stream=True: the receiver's body is never read (nor shown anywhere).
        response = http.post(
            endpoint.url,
            data=body.encode(),
            headers=headers,
            timeout=webhook_timeout(),
            allow_redirects=False,
            stream=True,
        )
        response.close()
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {_short(exc)}", peer_down=True) from None
    finally:
        http.close()
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(code, "delivered")
    if 300 <= code < 400:
        raise DeliveryError(f"HTTP {code}: redirects are not followed", code=code, permanent=True)
    permanent = 400 <= code < 500 and code not in {408, 429}
    raise DeliveryError(f"HTTP {code}", code=code, permanent=permanent, peer_down=not permanent)


def _short(exc: BaseException) -> str:
    return str(exc)[:300]


TEST_EVENT = "test"


def sample_subject() -> str:
    """The test event's subject, in the site's language (a channel's readers)."""
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Test event from the helpdesk")


def enqueue_test(endpoint: WebhookEndpoint) -> None:
    """The admin's "send test event": a sample payload, queued like any other."""
    data = {
        "event": TEST_EVENT,
        "id": uuid.uuid4().hex,
        "occurred_at": timezone.now().isoformat(),
        "reference": "HD-0000-0000",
        "subject": sample_subject(),
        "status": Status.OPEN,
        "priority": Priority.MEDIUM,
        "requester": None,
        "assignee": None,
        "team": None,
        "url": settings.HELPDESK_BASE_URL + "/",
        "actor": None,
        "old": "",
        "new": "",
    }
    enqueue_webhook(endpoint, data, None)

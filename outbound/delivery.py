"""Delivering the outbox: claim, send, record, back off.

Claiming is a conditional UPDATE (pending -> sending), so any number of
workers can run against one database and each row is sent by at most one
at a time. A worker that dies mid-send leaves its row in "sending"; after
HELPDESK_OUTBOX_SENDING_TIMEOUT the sweep puts it back to pending and it is
sent again with the same Message-ID: at most one duplicate, and one a mail
client recognises (RELIABILITY-SECURITY rule 10).
"""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import datetime, timedelta
from email.utils import formatdate
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.core.mail import get_connection
from django.db.models import F
from django.utils import timezone

from outbound import webhooks
from outbound.bounces import is_bouncing, mark_bouncing
from outbound.conf import backoff_seconds, max_attempts, sending_timeout
from outbound.errors import DeliveryError, Outcome
from outbound.mails import MissingObject, build_email
from outbound.models import DeliveryAttempt, OutboxItem

log = logging.getLogger(__name__)

Status = OutboxItem.Status


def claim(item_id: int, now: datetime) -> OutboxItem | None:
    """Take the row for this worker, or None if someone else has it or it is not due."""
    taken = OutboxItem.objects.filter(
        pk=item_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if taken != 1:
        return None
    return OutboxItem.objects.select_related("endpoint").get(pk=item_id)


def send_email(item: OutboxItem) -> Outcome:
    if is_bouncing(item.recipient):
        raise DeliveryError("the recipient is marked as bouncing", skip=True)
    connection = get_connection(fail_silently=False)
    try:
        message = build_email(item.payload, connection=connection)
    except MissingObject as exc:
        raise DeliveryError(str(exc), skip=True) from None
    # The Date is when the mail was written (enqueued), like its Message-ID,
    # not when this attempt runs: a repeat after a crash is the same mail,
    # byte for byte in its headers (found by the F5 fault suite).
    message.extra_headers.setdefault("Date", formatdate(item.created_at.timestamp()))
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        detail = f"SMTP {code}: {_text(reply)}"
        if code >= 500:
            mark_bouncing(email=item.recipient, reason=detail)
        raise DeliveryError(detail, code=code, permanent=code >= 500) from None
    except smtplib.SMTPDataError as exc:
        detail = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
        raise DeliveryError(detail, code=exc.smtp_code, permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPResponseException as exc:
        # Connect, HELO, AUTH or MAIL FROM refused: our configuration or the
        # relay is at fault, not this mail, so keep retrying (with backoff).
        detail = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
        raise DeliveryError(detail, code=exc.smtp_code, peer_down=True) from None
    except AnymailRecipientsRefused as exc:
        mark_bouncing(email=item.recipient, reason=_text(str(exc)))
        raise DeliveryError(f"ESP refused the recipient: {exc}", permanent=True) from None
    except AnymailAPIError as exc:
        status = exc.status_code
        permanent = status is not None and 400 <= status < 500 and status not in {408, 429}
        raise DeliveryError(
            f"ESP error: {_text(str(exc))}", code=status, permanent=permanent, peer_down=True
        ) from None
    except AnymailError as exc:
        raise DeliveryError(f"ESP error: {_text(str(exc))}") from None
    except (smtplib.SMTPException, OSError) as exc:
        # Refused, timed out, disconnected: the relay is down, not this mail.
        detail = f"{type(exc).__name__}: {_text(str(exc))}"
        raise DeliveryError(detail, peer_down=True) from None
    finally:
        connection.close()
    is_smtp = type(connection).__module__.startswith("django.core.mail.backends.smtp")
    return Outcome(250 if is_smtp else None, "accepted")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]


def _attempt(item: OutboxItem) -> Outcome:
    if item.kind == OutboxItem.Kind.EMAIL:
        return send_email(item)
    if item.kind == OutboxItem.Kind.WEBHOOK:
        return webhooks.post(item)
    raise DeliveryError(f"unknown kind {item.kind!r}", permanent=True)


def deliver_one(item_id: int, *, now: datetime | None = None) -> bool:
    """Try to deliver one row; False when it was not ours to send."""
    now = now or timezone.now()
    item = claim(item_id, now)
    if item is None:
        return False
    started = time.monotonic()
    try:
        outcome = _attempt(item)
    except DeliveryError as exc:
        _finish_failed(item, exc, now, started)
    except Exception as exc:
        # A bug or a broken template: logged in full here, retried like a
        # transient fault so a fix deployed in time still delivers the mail.
        log.exception("Outbox item %s crashed while sending", item.pk)
        _finish_failed(item, DeliveryError(f"{type(exc).__name__}: {_text(exc)}"), now, started)
    else:
        _record(item, DeliveryAttempt.Result.SENT, outcome.code, outcome.detail, started)
        _settle(item, status=Status.SENT, sent_at=timezone.now(), last_error="")
    return True


def _finish_failed(item: OutboxItem, exc: DeliveryError, now: datetime, started: float) -> None:
    if exc.skip:
        _record(item, DeliveryAttempt.Result.SKIPPED, exc.code, exc.detail, started)
        _settle(item, status=Status.SKIPPED, last_error=exc.detail)
    elif exc.permanent or item.attempts >= max_attempts():
        _record(item, DeliveryAttempt.Result.FAILED, exc.code, exc.detail, started)
        _settle(item, status=Status.FAILED, last_error=exc.detail)
        log.warning("Outbox item %s failed for good: %s", item.pk, exc.detail)
    else:
        _record(item, DeliveryAttempt.Result.RETRY, exc.code, exc.detail, started)
        retry_at = now + timedelta(seconds=backoff_seconds(item.attempts))
        _settle(item, status=Status.PENDING, next_attempt_at=retry_at, last_error=exc.detail)
        if exc.peer_down:
            _hold_peer(item, retry_at)


def _hold_peer(item: OutboxItem, until: datetime) -> None:
    """The relay (for mail) or the endpoint (for a webhook) is down: the rows
    waiting for it wait until its next try, so a dead peer costs one timeout
    per round instead of one per row, and never holds up other peers."""
    waiting = OutboxItem.objects.filter(
        status=Status.PENDING, kind=item.kind, next_attempt_at__lt=until
    ).exclude(pk=item.pk)
    if item.kind == OutboxItem.Kind.WEBHOOK:
        waiting = waiting.filter(endpoint_id=item.endpoint_id)
    waiting.update(next_attempt_at=until)


def _record(item: OutboxItem, result: str, code: int | None, detail: str, started: float) -> None:
    took = int((time.monotonic() - started) * 1000)
    status_code = code if code and 0 < code < 1000 else None
    DeliveryAttempt.objects.create(
        item=item, result=result, status_code=status_code, detail=detail[:500], duration_ms=took
    )
    log.info(
        "delivery %s %s",
        item.pk,
        result,
        extra={
            "event": "outbox.attempt",
            "item": item.pk,
            "kind": item.kind,
            "notice": item.event,
            "attempt": item.attempts,
            "result": result,
            "code": status_code,
            "ms": took,
        },
    )


def _settle(item: OutboxItem, **fields: Any) -> None:
    # Only if the row is still ours: a sweep that took us for dead may have
    # handed it to another worker meanwhile.
    OutboxItem.objects.filter(pk=item.pk, status=Status.SENDING, claimed_at=item.claimed_at).update(
        claimed_at=None, **fields
    )


def recover_stale(*, now: datetime | None = None) -> int:
    """Put rows whose worker died mid-send back in the queue."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=sending_timeout())
    stale = list(
        OutboxItem.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).values_list(
            "pk", "claimed_at"
        )
    )
    recovered = 0
    for pk, claimed_at in stale:
        note = "the worker stopped while sending; queued again"
        if OutboxItem.objects.filter(pk=pk, status=Status.SENDING, claimed_at=claimed_at).update(
            status=Status.PENDING, claimed_at=None, next_attempt_at=now, last_error=note
        ):
            DeliveryAttempt.objects.create(
                item_id=pk, result=DeliveryAttempt.Result.RETRY, detail=note
            )
            recovered += 1
    if recovered:
        log.warning("Re-queued %d outbox items left in 'sending'", recovered)
    return recovered


def due_ids(now: datetime, limit: int) -> list[int]:
    return list(
        OutboxItem.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def deliver_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Deliver every row that is due (up to limit); the number attempted."""
    now = now or timezone.now()
    recover_stale(now=now)
    return sum(1 for item_id in due_ids(now, limit) if deliver_one(item_id, now=now))


def deliver_ids(ids: list[int]) -> int:
    """What the task does: try the rows a transaction just committed."""
    return sum(1 for item_id in ids if deliver_one(item_id))


def retry_now(items: Any) -> int:
    """Admin action: failed or waiting rows go back to the front of the queue."""
    return int(
        items.filter(status__in=[Status.FAILED, Status.PENDING, Status.SKIPPED]).update(
            status=Status.PENDING, next_attempt_at=timezone.now(), attempts=0, claimed_at=None
        )
    )

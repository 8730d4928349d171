"""Bounce bookkeeping: the inbound gateway and ESP tracking webhooks report
bounces here; the outbox asks before every mail."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F

from outbound.models import BouncingAddress, OutboxItem

if TYPE_CHECKING:
    from mailgateway.parse import InboundEmail

# A bounce that is not a standard report often quotes the returned mail's
# headers in its text.
_QUOTED_MESSAGE_ID = re.compile(r"(?im)^[ >]*Message-ID:\s*<([^<>\s]{1,250})>")


def _key(email: str) -> str:
    return email.strip().strip("<>").lower()


@transaction.atomic
def mark_bouncing(*, email: str, reason: str = "") -> BouncingAddress:
    row, created = BouncingAddress.objects.get_or_create(
        email=_key(email), defaults={"reason": reason[:2000]}
    )
    if not created:
        BouncingAddress.objects.filter(pk=row.pk).update(
            bounces=F("bounces") + 1, reason=reason[:2000] or row.reason
        )
        row.refresh_from_db()
    return row


def is_bouncing(email: str) -> bool:
    return BouncingAddress.objects.filter(email=_key(email)).exists()


def clear_bouncing(*, email: str) -> None:
    BouncingAddress.objects.filter(email=_key(email)).delete()


def bounced_mails(
    mail: InboundEmail, failed: list[tuple[str, str]]
) -> list[tuple[OutboxItem, str]]:
    """Our outbox mails a bounce reports as failed, with the bounce's reason
    ("" when it gives none), each row's last_error set to say so (RFC 3464:
    the report returns the mail, or its headers, whose Message-ID is the one
    we gave it). Only ids of ours match."""
    ids = [
        *mail.attached_message_ids,
        *_QUOTED_MESSAGE_ID.findall(mail.text[:200_000])[:10],
        *mail.in_reply_to,
    ]
    if not ids:
        return []
    reasons = {_key(address): reason for address, reason in failed}
    found = [
        (item, reasons.get(_key(item.recipient), ""))
        for item in OutboxItem.objects.filter(
            kind=OutboxItem.Kind.EMAIL, message_id__in=list(dict.fromkeys(ids))[:50]
        ).select_related("ticket")
        # A report naming its failed recipients bounces only theirs; one that
        # names none (a non-standard bounce) bounces the mail it returns.
        if not reasons or _key(item.recipient) in reasons
    ]
    for item, reason in found:
        item.last_error = f"bounced: {reason}"[:2000] if reason else "bounced"
    OutboxItem.objects.bulk_update([item for item, _ in found], ["last_error"])
    return found

"""What the reply box writes, as mails: an entry formatted in it
(Message.formatted) as a mail's HTML, its inline images referenced by
Content-ID (cid:, RFC 2392) and sent with it as related parts
(outbound.emails.Mail); and a forward to an outside address."""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString, mark_safe

from mailgateway.sanitize import SanitizeError, fill_inline_images, sanitize_stored
from tickets.models import Message

# An agent's forward to an outside address (a supplier): the mail's template;
# not a notification anyone subscribes to or switches off, so not one of
# outbound.models.Notification's choices.
FORWARD = "forward"
# Mail clients ignore stylesheets; a pasted screenshot must still fit the mail.
IMAGE_STYLE = "max-width:100%;height:auto;"


def inline_content_ids(message: Message | None) -> set[str]:
    """The Content-IDs of the entry's inline images its HTML shows."""
    if message is None or not message.formatted or not message.body_html:
        return set()
    ids = {
        a.content_id
        for a in message.attachments.all()
        if a.is_inline and a.content_id and f'data-cid="{a.content_id}"' in message.body_html
    }
    return ids


def mail_html(message: Message | None) -> SafeString:
    """The entry's HTML for a mail ("" when it has none: the text is shown)."""
    if message is None or not message.formatted or not message.body_html:
        return mark_safe("")
    try:
        clean = sanitize_stored(message.body_html)  # again, as it leaves
    except SanitizeError:
        return mark_safe("")
    sources = {cid: f"cid:{cid}" for cid in inline_content_ids(message)}
    return mark_safe(fill_inline_images(clean, sources, style=IMAGE_STYLE))  # noqa: S308


def forward_context(message: Message) -> dict[str, Any]:
    """The forward template's extra context: the entry it carries, if any."""
    entry = message.forward_of
    if entry is None:
        return {"forwarded_to": message.forwarded_to, "forwarded_body": ""}
    author = entry.author
    return {
        "forwarded_to": message.forwarded_to,
        "forwarded_body": entry.body,
        "forwarded_from": str(author.get_full_name())
        if author is not None
        else entry.external_from,
        "forwarded_at": entry.created_at,
    }

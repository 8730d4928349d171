"""How a mail's HTML and files are shown in the thread: its pasted images
(cid:) where they stood, remote images only on request, image files as
thumbnails, attached mails as nested messages.

The stored HTML is never changed here: it keeps data-cid/data-src (see
mailgateway.sanitize) and each render fills in the URLs for the viewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from mailgateway.sanitize import fill_inline_images
from tickets.services import display_file_name

# Raster formats every browser decodes and none can run script in. SVG (and
# anything else) is never shown inline: an SVG opened from our origin is a
# document that runs script.
RASTER_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MESSAGE_TYPES = frozenset({"message/rfc822", "application/vnd.ms-outlook"})
# Clients attach mails under generic types too; the name tells then.
GENERIC_TYPES = frozenset({"application/octet-stream", "text/plain", "application/x-msg", ""})

_DATA_CID = re.compile(r'\bdata-cid="([^"]*)"')
# Serialised by the sanitiser with double quotes and &quot; inside values, so
# a literal data-src=" can only be the attribute (or text, harmless to touch).
_DATA_SRC = re.compile(r'\bdata-src="')


def sniff_raster(head: bytes) -> str:
    """The raster type the first bytes of a file say it is, "" for anything
    else. The declared Content-Type is the sender's claim; the bytes decide."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return ""


def declared_type(content_type: str) -> str:
    return (content_type or "").lower().split(";")[0].strip()


def is_raster(attachment: Any) -> bool:
    return declared_type(attachment.content_type) in RASTER_TYPES


def is_attached_mail(attachment: Any) -> bool:
    """An attached mail we can show nested: message/rfc822, an Outlook .msg
    (application/vnd.ms-outlook), or either sent under a generic type."""
    kind = declared_type(attachment.content_type)
    return kind in MESSAGE_TYPES or (
        kind in GENERIC_TYPES and attachment.original_name.lower().endswith((".eml", ".msg"))
    )


def inline_url(attachment: Any) -> str:
    return reverse("attachment_inline", args=[attachment.pk])


def cids_in(html: str) -> set[str]:
    return {m.group(1) for m in _DATA_CID.finditer(html)}


def frame_html(message: Any, *, remote_images: bool = False) -> str:
    """The message's sanitised HTML (as the viewer may see it: .shown_html)
    with its own pasted images pointing at their inline view. Only images of
    this very message: a cid naming another message's file stays unloaded.
    remote_images: data-src becomes src (the per-message opt-in)."""
    html: str = getattr(message, "shown_html", "") or ""
    if not html:
        return ""
    sources = {
        a.content_id: inline_url(a)
        for a in getattr(message, "attachment_list", ())
        if a.content_id and is_raster(a)
    }
    html = fill_inline_images(html, sources)
    if remote_images:
        html = _DATA_SRC.sub('src="', html)
    return html


def has_remote_images(message: Any) -> bool:
    return 'data-src="' in (getattr(message, "shown_html", "") or "")


@dataclass
class Files:
    """A message's files as the thread lists them."""

    images: list[Any] = field(default_factory=list)  # thumbnails
    mails: list[Any] = field(default_factory=list)  # shown as nested messages
    others: list[Any] = field(default_factory=list)  # plain downloads

    def __bool__(self) -> bool:
        return bool(self.images or self.mails or self.others)


def message_files(message: Any) -> Files:
    """The message's files minus the pasted images its HTML already shows."""
    shown = cids_in(getattr(message, "shown_html", "") or "")
    return sort_files(getattr(message, "attachment_list", ()), shown_cids=shown)


def sort_files(attachments: Iterable[Any], *, shown_cids: set[str]) -> Files:
    files = Files()
    for a in attachments:
        if is_raster(a):
            if a.content_id and a.content_id in shown_cids:
                continue
            files.images.append(a)
        elif is_attached_mail(a):
            files.mails.append(a)
        else:
            files.others.append(a)
    return files


# An attached mail is parsed each time it is opened (its stored bytes stay
# the record); past this size it is only a download.
MAX_NESTED_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class NestedPart:
    index: int
    name: str
    content_type: str
    size: int
    inline: bool  # a pasted image its HTML shows


@dataclass(frozen=True)
class NestedMail:
    """An attached mail as the thread shows it."""

    subject: str
    sender: str
    to: str
    cc: str
    date: Any
    html: str  # sanitised, its pasted images pointing at their part URLs
    text: str
    parts: list[NestedPart]


def _addresses(addresses: Iterable[Any]) -> str:
    return ", ".join(_address(a) for a in addresses if a.email)


def _address(a: Any) -> str:
    return f"{a.name} <{a.email}>" if a.name and a.email else a.email or a.name


def read_attached(raw: bytes) -> Any:
    """An attached mail's parts (mailgateway.outlook_msg.AttachedMail): an
    Outlook .msg by its OLE2 signature, else an RFC 5322 mail read by the
    gateway's own parser. Raises what they raise on unreadable bytes."""
    from mailgateway.outlook_msg import AttachedMail, is_msg, read_msg
    from mailgateway.parse import Address, parse_email

    if is_msg(raw):
        return read_msg(raw)
    mail = parse_email(raw)
    sender = mail.from_ or (Address(mail.from_display, "") if mail.from_display else None)
    return AttachedMail(
        subject=mail.subject,
        sender=sender,
        to=mail.to,
        cc=mail.cc,
        date=mail.date,
        text=mail.text,
        html=mail.html,
        attachments=mail.attachments,
    )


def parse_nested(raw: bytes, *, part_url: Any) -> NestedMail:
    """raw (an attached .eml or .msg) read with the gateway's parser and
    sanitiser; part_url(index) is where its part number index is served.
    Raises what reading raises (the caller shows the file as a download)."""
    from mailgateway.sanitize import SanitizeError, html_to_text, sanitize_html

    mail = read_attached(raw)
    html = ""
    if mail.html:
        try:
            html = sanitize_html(mail.html)
        except SanitizeError:
            html = ""
    sources = {
        a.content_id: part_url(i)
        for i, a in enumerate(mail.attachments)
        if a.content_id and sniff_raster(a.payload[:16])
    }
    html = fill_inline_images(html, sources)
    shown = cids_in(html) & set(sources)
    return NestedMail(
        subject=mail.subject,
        sender=_address(mail.sender) if mail.sender else "",
        to=_addresses(mail.to),
        cc=_addresses(mail.cc),
        date=mail.date,
        html=html,
        text="" if html else (mail.text or html_to_text(mail.html)),
        parts=[
            NestedPart(
                i,
                display_file_name(a.filename),
                a.content_type,
                len(a.payload),
                a.content_id in shown,
            )
            for i, a in enumerate(mail.attachments)
        ],
    )

"""Attachment downloads: only for people who may read the ticket, never rendered."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from tickets import access
from tickets.models import Attachment, Message

# Types a browser would execute or render with script if opened directly
# (the FreeScout .js-from-our-origin bypass, osTicket HTML uploads).
SCRIPTABLE_MARKERS = ("html", "svg", "xml", "javascript", "ecmascript", "xhtml", "x-sh")


def safe_content_type(declared: str) -> str:
    value = (declared or "").lower().split(";")[0].strip()
    if not value or "/" not in value or any(m in value for m in SCRIPTABLE_MARKERS):
        return "application/octet-stream"
    return value


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name as filename*."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback or 'attachment'}\"; filename*=UTF-8''{quote(name)}"


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachments = Attachment.objects.filter(
        pk=pk, ticket__in=access.visible_tickets(request.user).values("pk")
    )
    if not access.is_staff(request.user):
        # A file on an internal note is as internal as the note.
        attachments = attachments.exclude(message__kind=Message.Kind.NOTE)
    attachment = attachments.first()
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=safe_content_type(attachment.content_type))
    response["Content-Disposition"] = content_disposition(attachment.original_name)
    response["Content-Length"] = str(attachment.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response

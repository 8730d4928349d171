"""Attachment downloads: only for people who may read the ticket, never
rendered; raster images also inline (the thread's pasted screenshots and
thumbnails), and attached mails as a nested message."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from config import objectstore
from helpdesk import mail_display
from tickets import access
from tickets.models import Attachment, Message

# Types a browser would execute or render with script if opened directly
# (the FreeScout .js-from-our-origin bypass, osTicket HTML uploads).
SCRIPTABLE_MARKERS = ("html", "svg", "xml", "javascript", "ecmascript", "xhtml", "x-sh")
# An image shown inline is data, never a document: nothing may load or run
# even if a browser were talked into treating it as one.
INLINE_POLICY = "default-src 'none'; sandbox"


def safe_content_type(declared: str) -> str:
    value = (declared or "").lower().split(";")[0].strip()
    if not value or "/" not in value or any(m in value for m in SCRIPTABLE_MARKERS):
        return "application/octet-stream"
    return value


def content_disposition(name: str, kind: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name as filename*."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback or 'attachment'}\"; filename*=UTF-8''{quote(name)}"


def visible_attachment(request: HttpRequest, pk: int) -> Attachment:
    """The attachment if the user may read its ticket (a customer: never one
    on an internal note); Http404 otherwise, as for a missing one."""
    attachments = Attachment.objects.filter(
        pk=pk, ticket__in=access.visible_tickets(request.user).values("pk")
    )
    if not access.is_staff(request.user):
        # A file on an internal note is as internal as the note.
        attachments = attachments.exclude(message__kind=Message.Kind.NOTE)
    attachment = attachments.first()
    if attachment is None:
        raise Http404
    return attachment


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    attachment = visible_attachment(request, pk)
    url = objectstore.download_url(
        attachment.file.storage,
        attachment.file.name or "",
        disposition=content_disposition(attachment.original_name),
        content_type=safe_content_type(attachment.content_type),
    )
    if url is not None:
        # Object store: a redirect to a presigned GET valid a few minutes
        # (HELPDESK_S3_URL_EXPIRE), made only after the checks above, whose
        # answer carries our Content-Disposition: attachment and safe type.
        # The store cannot be asked for nosniff or a CSP, and needs neither:
        # the file comes from the store's origin, never ours, and is saved,
        # not rendered. The URL is a credential: never cached, never sent on.
        redirect = HttpResponseRedirect(url)
        redirect["Cache-Control"] = "private, no-store"
        redirect["Referrer-Policy"] = "no-referrer"
        redirect["X-Content-Type-Options"] = "nosniff"
        return redirect
    prefix = settings.HELPDESK_X_ACCEL_REDIRECT
    if prefix and isinstance(attachment.file.storage, FileSystemStorage):
        # nginx sends the file itself (its internal location adds nosniff and
        # the sandbox, which it does not take over from this answer).
        accel = HttpResponse(content_type=safe_content_type(attachment.content_type))
        accel["X-Accel-Redirect"] = prefix + quote(attachment.file.name or "")
        accel["Content-Disposition"] = content_disposition(attachment.original_name)
        accel["Cache-Control"] = "private, no-store"
        return accel
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


@login_required
@require_GET
def attachment_inline(request: HttpRequest, pk: int) -> FileResponse:
    """A raster image (PNG, JPEG, GIF, WebP by its bytes, whatever its
    declared type) for an <img> or the viewer; anything else is a 404 here
    and stays a download. Streamed even from the object store: the bytes
    must be sniffed, and an inline image must carry nosniff and the CSP
    below, which a presigned URL cannot."""
    attachment = visible_attachment(request, pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    kind = mail_display.sniff_raster(handle.read(16))
    if not kind:
        handle.close()
        raise Http404
    handle.seek(0)
    response = FileResponse(handle, content_type=kind)
    response["Content-Length"] = str(attachment.size)
    return with_inline_headers(response, attachment.original_name)


Response = TypeVar("Response", bound=HttpResponseBase)


def with_inline_headers(response: Response, name: str) -> Response:
    response["Content-Disposition"] = content_disposition(name, "inline")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = INLINE_POLICY
    # The file behind an id never changes; private: never in a shared cache.
    response["Cache-Control"] = "private, max-age=3600"
    return response

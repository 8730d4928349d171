"""Documents shown in the thread's frames, each with a policy of its own.

Mail HTML normally sits in the ticket page as a srcdoc frame, which inherits
the page's CSP (img-src 'self' data:): pasted images load, remote images and
tracking pixels cannot, even if markup slipped past the sanitiser. Showing a
message's remote images therefore needs a document with its own policy: after
the agent clicks "Show images", our script points that one message's frame at
message_html?images=1, whose CSP allows remote images and nothing else (no
script, sandboxed, framed by our own pages only, no Referer sent). The rest of
the page keeps img-src 'self'. Attached mails are shown the same way.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from helpdesk import mail_display
from helpdesk.views.attachments import (
    content_disposition,
    safe_content_type,
    visible_attachment,
    with_inline_headers,
)
from tickets import selectors
from tickets.models import Attachment, Ticket
from tickets.services import display_file_name

SANDBOX = "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"


def frame_policy(*, remote_images: bool = False, downloads: bool = False) -> str:
    images = "'self' data: http: https:" if remote_images else "'self' data:"
    sandbox = SANDBOX + (" allow-downloads" if downloads else "")
    return (
        f"default-src 'none'; img-src {images}; style-src 'self'; {sandbox}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )


def _framed(response: HttpResponse, policy: str) -> HttpResponse:
    response["Content-Security-Policy"] = policy
    # Remote images must not learn which ticket (the URL) they were seen on.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
@xframe_options_sameorigin
def message_html(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """One mail's HTML as a document of its own; ?images=1 loads its remote
    images (what the viewer may see of it: .shown_html, as in the thread)."""
    try:
        ticket = selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None
    message = selectors.thread_message(ticket=ticket, user=request.user, pk=pk)
    remote = request.GET.get("images") == "1"
    html = mail_display.frame_html(message, remote_images=remote) if message else ""
    if not html:
        raise Http404
    response = render(request, "tickets/mail_frame.html", {"html": html})
    return _framed(response, frame_policy(remote_images=remote))


@login_required
@require_GET
@xframe_options_sameorigin
def attachment_message(request: HttpRequest, pk: int) -> HttpResponse:
    """An attached mail (.eml, message/rfc822, or an Outlook .msg) as a
    nested message: its headers, its text and its own files."""
    attachment = visible_attachment(request, pk)
    raw = _attached_mail(attachment)

    def part_url(index: int) -> str:
        return reverse("attachment_part", args=[attachment.pk, index])

    try:
        nested = mail_display.parse_nested(raw, part_url=part_url)
    except Exception:
        # Unreadable as a mail: the file is still there as a download.
        nested = None
    context = {"attachment": attachment, "mail": nested, "part_url": part_url}
    response = render(request, "tickets/nested_mail.html", context)
    return _framed(response, frame_policy(downloads=True))


@login_required
@require_GET
def attachment_part(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """One file of an attached mail: a raster image inline (its pasted
    screenshots), anything else as a download, like the files of the thread."""
    attachment = visible_attachment(request, pk)
    try:
        parts = mail_display.read_attached(_attached_mail(attachment)).attachments
    except Exception:
        raise Http404 from None
    if not 0 <= index < len(parts):
        raise Http404
    part = parts[index]
    # The attached mail's own names never went through the ticket's storage:
    # cleaned as the thread's file names are (path, controls, bidi overrides).
    name = display_file_name(part.filename)
    kind = mail_display.sniff_raster(part.payload[:16])
    response = HttpResponse(part.payload, content_type=kind or safe_content_type(part.content_type))
    if kind:
        return with_inline_headers(response, name)
    response["Content-Disposition"] = content_disposition(name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def _attached_mail(attachment: Attachment) -> bytes:
    if not mail_display.is_attached_mail(attachment):
        raise Http404
    if attachment.size > mail_display.MAX_NESTED_BYTES:
        raise Http404
    try:
        with attachment.file.open("rb") as handle:
            return bytes(handle.read(mail_display.MAX_NESTED_BYTES + 1))
    except FileNotFoundError:
        raise Http404 from None

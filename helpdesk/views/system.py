"""The System page: the installation's health for admins (helpdesk.ops.system)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from helpdesk.audit import audit_record
from helpdesk.models import AuditEntry
from helpdesk.ops.system import system_overview
from helpdesk.roles import is_admin
from mailgateway.ingest import reprocess_rows
from mailgateway.models import InboundMessage
from outbound.delivery import retry_now
from outbound.models import OutboxItem

# Re-processing runs in the request: a bounded number per click keeps the
# page answering (the command `reprocess_quarantine --all` has no limit).
REPROCESS_PER_CLICK = 100


def _require_admin(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise Http404


@login_required
@require_GET
def system(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(request, "helpdesk/system.html", {"o": system_overview()})


@login_required
@require_POST
def system_retry_outbox(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    count = retry_now(OutboxItem.objects.filter(status=OutboxItem.Status.FAILED))
    messages.success(
        request,
        ngettext(
            "%(count)d item queued to be sent again.",
            "%(count)d items queued to be sent again.",
            count,
        )
        % {"count": count},
    )
    return redirect("system")


@login_required
@require_POST
def system_reprocess_quarantine(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    rows = InboundMessage.objects.filter(outcome=InboundMessage.Outcome.QUARANTINED).order_by(
        "received_at"
    )[:REPROCESS_PER_CLICK]
    done = reprocess_rows(rows)
    summary = _("Re-processed: %(summary)s") % {"summary": done.summary}
    if done.counts:
        audit_record(
            action=AuditEntry.Action.QUARANTINE,
            object_type="mailgateway.inboundmessage",
            object_repr=summary,
        )
    if done.error:  # the database went away midway: say so
        messages.error(request, done.error)
    messages.success(request, summary)
    return redirect("system")

"""Presence heartbeats and reply drafts on a ticket page (staff only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk import drafts, presence
from helpdesk.accounts import user_availability_set
from helpdesk.models import ReplyDraft
from tickets import access, selectors
from tickets.models import Ticket


def _staff_ticket(request: HttpRequest, reference: str) -> Ticket:
    # Customers get the same 404 as for a ticket that does not exist.
    if not access.is_staff(request.user):
        raise Http404
    try:
        return selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None


@login_required
@require_POST
def availability_set(request: HttpRequest) -> HttpResponse:
    """An agent toggles available / away from the account menu."""
    if not access.is_staff(request.user):
        raise Http404
    available = request.POST.get("available") == "1"
    user_availability_set(user=request.user, available=available)  # type: ignore[arg-type]
    messages.success(
        request, _("You are available.") if available else _("You are away: no new tickets.")
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    return redirect(target)


@never_cache
@login_required
@require_POST
def ticket_presence(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _staff_ticket(request, reference)
    presence.presence_beat(user=request.user, ticket=ticket, state=request.POST.get("state", ""))
    others = presence.others_present(user=request.user, ticket=ticket)
    return render(request, "helpdesk/partials/presence.html", {"others": others})


@login_required
@require_POST
def ticket_presence_leave(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _staff_ticket(request, reference)
    presence.presence_leave(user=request.user, ticket=ticket)
    return HttpResponse(status=204)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def ticket_draft(request: HttpRequest, reference: str) -> HttpResponse:
    """GET: the user's drafts for the ticket as JSON; POST kind+body: save one."""
    ticket = _staff_ticket(request, reference)
    if request.method == "GET":
        return JsonResponse(
            {
                kind: drafts.draft_get(user=request.user, ticket=ticket, kind=kind)
                for kind in ReplyDraft.Kind.values
            }
        )
    kind = request.POST.get("kind", "")
    if kind not in ReplyDraft.Kind.values:
        return HttpResponse(status=400)
    drafts.draft_save(
        user=request.user, ticket=ticket, kind=kind, body=request.POST.get("body", "")
    )
    return HttpResponse(status=204)

"""The agent's canned replies: theirs to add and delete; their teams' and
everyone's to read (managers keep those in the admin)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.canned import scope_label
from helpdesk.decorators import staff_required
from helpdesk.ticket_forms import CannedReplyForm
from tickets import services
from tickets.canned import canned_for


@staff_required
@require_http_methods(["GET", "POST"])
def canned_list(request: HttpRequest) -> HttpResponse:
    form = CannedReplyForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.canned_reply_save(
            owner=request.user,
            team=data["team"],
            name=data["name"],
            body=data["body"],
            language=data["language"],
        )
        messages.success(request, _("Canned reply saved."))
        return redirect("canned_list")
    replies = list(canned_for(request.user).select_related("team", "owner"))
    for reply in replies:
        reply.scope = scope_label(reply)  # type: ignore[attr-defined]
    status = 400 if form.is_bound else 200
    context = {"form": form, "replies": replies}
    return render(request, "helpdesk/canned.html", context, status=status)


@staff_required
@require_POST
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reply = canned_for(request.user).filter(pk=pk, owner=request.user.pk).first()
    if reply is None:
        raise Http404
    services.canned_reply_delete(canned=reply, actor=request.user)
    messages.success(request, _("Canned reply deleted."))
    return redirect("canned_list")

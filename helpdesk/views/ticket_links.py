"""A ticket's relations on its page: merging a duplicate into another ticket,
the merged and linked tickets, and tags edited in place (staff only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.decorators import is_htmx, staff_required
from helpdesk.link_forms import MergeForm, TagForm
from tickets import selectors, services
from tickets.models import Ticket


def _ticket_or_404(request: HttpRequest, reference: str) -> Ticket:
    try:
        return selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None


def links_context(request: HttpRequest, ticket: Ticket, *, staff: bool) -> dict[str, Any]:
    """What the ticket page shows of its relations (tickets/_links.html)."""
    related = selectors.ticket_related(ticket=ticket, user=request.user)
    context: dict[str, Any] = {"related": related}
    if staff:
        context["ticket_tags"] = list(ticket.tags.all())
        context["tag_form"] = TagForm()
        context["merge_form"] = MergeForm(prefix="merge")
    return context


@staff_required
@require_POST
def ticket_merge(request: HttpRequest, reference: str) -> HttpResponse:
    """Merge this ticket, a duplicate, into the one named in the form."""
    ticket = _ticket_or_404(request, reference)
    form = MergeForm(request.POST, prefix="merge")
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors.get("into", ())))
        return redirect(ticket)
    try:
        target = selectors.ticket_get(user=request.user, reference=form.cleaned_data["into"])
    except Ticket.DoesNotExist:
        messages.error(
            request, _("There is no ticket %(ref)s.") % {"ref": form.cleaned_data["into"]}
        )
        return redirect(ticket)
    try:
        services.ticket_merge(source=ticket, target=target, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(ticket)
    messages.success(
        request,
        _("%(source)s was merged into %(target)s.")
        % {"source": ticket.reference, "target": target.reference},
    )
    return redirect(target)


@staff_required
@require_POST
def ticket_tags(request: HttpRequest, reference: str) -> HttpResponse:
    """Add or remove one tag. htmx swaps in the returned tag list; without
    JavaScript the form posts normally and redirects back."""
    ticket = _ticket_or_404(request, reference)
    form = TagForm(request.POST)
    error = ""
    changed = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["remove"].strip():
                services.ticket_tag_remove(ticket=ticket, name=data["remove"], actor=request.user)
            else:
                services.ticket_tag_add(ticket=ticket, name=data["add"], actor=request.user)
            changed = True
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect(ticket)
    response = render(
        request,
        "tickets/_tags.html",
        {
            "ticket": ticket,
            "ticket_tags": list(ticket.tags.all()),
            "tag_form": TagForm(),
            "tag_error": error,
        },
    )
    if changed:
        response["HX-Trigger"] = "ticketChanged"  # the thread shows the audit line
    return response

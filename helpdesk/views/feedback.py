"""Confirm, reopen and rate: from the ticket page, or from a signed mail link.

A signed link (/feedback/<token>/) works without logging in: the token names
the ticket, the person and the action. GET only shows what will happen; the
action needs a POST with the CSRF token, so a mail scanner that follows links
changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk import resolution
from helpdesk.feedback import make_feedback_token, parse_feedback_token
from helpdesk.models import SatisfactionRating
from tickets import selectors
from tickets.models import Ticket


def _apply(action: str, request: HttpRequest, ticket: Ticket, user: Any) -> str:
    """Do action from the POSTed form; returns the message to show."""
    if action == "confirm":
        resolution.resolution_confirm(ticket=ticket, user=user)
        return _("Thank you! The ticket is now closed.")
    if action == "reopen":
        resolution.resolution_reopen(
            ticket=ticket, user=user, comment=request.POST.get("comment", "")
        )
        return _("The ticket is open again and your comment was sent to the team.")
    try:
        score = int(request.POST.get("score", ""))
    except ValueError:
        raise resolution.ResolutionError(_("Choose a rating from 1 to 5.")) from None
    resolution.rating_submit(
        ticket=ticket, user=user, score=score, comment=request.POST.get("comment", "")
    )
    return _("Thank you for rating our support!")


# --- Signed links -------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    parsed = parse_feedback_token(token)
    if parsed is None:
        raise Http404
    ticket_id, user_id, action = parsed
    ticket = Ticket.objects.select_related("created_by").filter(pk=ticket_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if ticket is None or user is None or not resolution.is_requester(user, ticket):
        raise Http404
    context: dict[str, Any] = {"ticket": ticket, "action": action, "token": token}
    if request.method == "POST":
        try:
            context["done"] = _apply(action, request, ticket, user)
        except resolution.ResolutionError as exc:
            context["error"] = str(exc)
        ticket.refresh_from_db()
    context["possible"] = {
        "confirm": resolution.can_confirm(user, ticket),
        "reopen": resolution.can_reopen(user, ticket),
        "rate": resolution.can_rate(user, ticket),
    }
    # A rating link for a ticket that is only resolved: confirming comes first.
    if action == "rate" and context["possible"]["confirm"]:
        context["confirm_token"] = make_feedback_token(
            ticket_id=ticket.pk, user_id=user.pk, action="confirm"
        )
    # After a confirmation the natural next step is the rating: offer it here.
    if context["possible"]["rate"]:
        context["rate_token"] = make_feedback_token(
            ticket_id=ticket.pk, user_id=user.pk, action="rate"
        )
    context["rating"] = SatisfactionRating.objects.filter(ticket=ticket).first()
    status = 400 if "error" in context else 200
    return render(request, "helpdesk/feedback.html", context, status=status)


# --- From the ticket page -----------------------------------------------------


def _own_ticket(request: HttpRequest, reference: str) -> Ticket:
    try:
        return selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None


def _ticket_action(action: str, request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _own_ticket(request, reference)
    try:
        messages.success(request, _apply(action, request, ticket, request.user))
    except resolution.ResolutionError as exc:
        messages.error(request, str(exc))
    return redirect(ticket.get_absolute_url())


@login_required
@require_POST
def ticket_confirm(request: HttpRequest, reference: str) -> HttpResponse:
    return _ticket_action("confirm", request, reference)


@login_required
@require_POST
def ticket_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    return _ticket_action("reopen", request, reference)


@login_required
@require_POST
def ticket_rate(request: HttpRequest, reference: str) -> HttpResponse:
    return _ticket_action("rate", request, reference)

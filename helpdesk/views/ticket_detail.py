"""One ticket: the page, its fragments, replies and in-place edits by staff."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from helpdesk.canned import canned_choices
from helpdesk.decorators import is_htmx, staff_required
from helpdesk.roles import is_staff_member
from helpdesk.thread import ticket_entries
from helpdesk.ticket_forms import ForwardForm, PropertiesForm, ReplyForm, TransferForm
from helpdesk.views import ticket_links
from tickets import selectors, services
from tickets.models import Ticket
from tickets.states import InvalidTransition, Status

OTHER_TICKETS = 10
LIVE_SECONDS = 15  # how often an open ticket page asks whether it changed


def live_version(ticket: Ticket, user: Any) -> str:
    """Changes whenever what user sees of the ticket does. For staff every
    write stamps updated_at; a customer's version is made of what they see
    (status, priority, their visible thread), so an internal note or a staff
    edit does not even make their page refresh."""
    if is_staff_member(user):
        return ticket.updated_at.strftime("%Y%m%d%H%M%S%f")
    thread = ticket.messages.all()
    latest = selectors.messages_visible(thread, user).order_by("-id").values_list("id", flat=True)
    return f"{ticket.status}.{ticket.priority}.{latest.first() or 0}"


def _ticket_or_404(request: HttpRequest, reference: str) -> Ticket:
    try:
        return selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None


def _transition_error(exc: InvalidTransition) -> str:
    return _("The ticket cannot move from %(old)s to %(new)s.") % {
        "old": Status(exc.old).label if exc.old in Status.values else exc.old,
        "new": Status(exc.new).label if exc.new in Status.values else exc.new,
    }


def _detail_context(request: HttpRequest, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    staff = is_staff_member(request.user)
    context: dict[str, Any] = {
        "ticket": ticket,
        "entries": ticket_entries(ticket=ticket, user=request.user),
        "ccs": list(ticket.ccs.all()),
        "is_staff_view": staff,
        "reply_form": ReplyForm(user=request.user, ticket=ticket),
        # A merged ticket lives on in the one it was merged into.
        "can_reply": (staff or ticket.status != Status.CLOSED) and ticket.merged_into_id is None,
        "live_version": live_version(ticket, request.user),
        "live_seconds": LIVE_SECONDS,
        # The newest entry the writer has seen: a reply sent after a newer
        # customer message arrived is stopped once, to be read first.
        "seen_message": ticket.messages.order_by("-id").values_list("id", flat=True).first() or 0,
    }
    if staff:
        context["properties_form"] = PropertiesForm(ticket=ticket)
        context["transfer_form"] = TransferForm(prefix="transfer")
        context["canned_replies"] = canned_choices(ticket=ticket, agent=request.user)
        context["forward_form"] = ForwardForm(ticket=ticket)
        context["other_tickets"] = list(
            selectors.ticket_list(user=request.user)
            .filter(created_by_id=ticket.created_by_id)
            .exclude(pk=ticket.pk)
            .order_by("-updated_at")[:OTHER_TICKETS]
        )
    context.update(ticket_links.links_context(request, ticket, staff=staff))
    context.update(extra)
    return context


@login_required
@require_GET
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _ticket_or_404(request, reference)
    return render(request, "tickets/detail.html", _detail_context(request, ticket))


@never_cache
@login_required
@require_GET
def ticket_live(request: HttpRequest, reference: str) -> HttpResponse:
    """The poller of an open ticket page: 204 while nothing changed, else the
    fresh badges and poller with HX-Trigger: ticketRefresh (the thread and
    the properties reload themselves)."""
    ticket = _ticket_or_404(request, reference)
    version = live_version(ticket, request.user)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    context = {"ticket": ticket, "live_version": version, "live_seconds": LIVE_SECONDS, "oob": True}
    response = render(request, "tickets/_live.html", context)
    response["HX-Trigger"] = "ticketRefresh"
    return response


@login_required
@require_GET
def ticket_thread(request: HttpRequest, reference: str) -> HttpResponse:
    """The thread alone, for htmx refreshes after an in-place change."""
    ticket = _ticket_or_404(request, reference)
    entries = ticket_entries(ticket=ticket, user=request.user)
    return render(
        request,
        "tickets/_thread.html",
        {"ticket": ticket, "entries": entries, "is_staff_view": is_staff_member(request.user)},
    )


@login_required
@require_POST
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _ticket_or_404(request, reference)
    staff = is_staff_member(request.user)
    form = ReplyForm(request.POST, request.FILES, user=request.user, ticket=ticket)
    if ticket.merged_into_id is not None:
        messages.error(request, _("This ticket was merged into another one; reply there."))
        return redirect(ticket)
    if not staff and ticket.status == Status.CLOSED:
        messages.error(request, _("This ticket is closed; reopen it to add a reply."))
        return redirect(ticket)
    if not form.is_valid():
        context = _detail_context(request, ticket, reply_form=form)
        return render(request, "tickets/detail.html", context, status=400)
    data = form.cleaned_data
    internal = bool(data.get("internal")) and staff
    if not internal and _newer_customer_message(request, ticket):
        form.add_error(
            None,
            _(
                "The customer wrote again while you were writing: read their new message "
                "above, then send your reply again."
            ),
        )
        context = _detail_context(request, ticket, reply_form=form, confirm_newer=True)
        return render(request, "tickets/detail.html", context, status=409)
    try:
        with transaction.atomic():
            message = services.ticket_reply_add(
                ticket=ticket,
                author=request.user,
                internal=internal,
                set_status=(data.get("set_status") or None) if staff else None,
                **form.reply_fields(staff=staff),
            )
    except InvalidTransition as exc:
        form.add_error("set_status", _transition_error(exc))
        context = _detail_context(request, ticket, reply_form=form)
        return render(request, "tickets/detail.html", context, status=400)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, _("Internal note added.") if internal else _("Reply sent."))
    return redirect(f"{ticket.get_absolute_url()}#message-{message.pk}")


def _newer_customer_message(request: HttpRequest, ticket: Ticket) -> bool:
    """A staff reply written before the customer's latest message (asked once:
    the second send carries send_anyway)."""
    if not is_staff_member(request.user) or request.POST.get("send_anyway"):
        return False
    try:
        seen = int(request.POST.get("seen") or 0)
    except ValueError:
        return False
    if not seen:
        return False
    return (
        ticket.messages.filter(pk__gt=seen, kind="reply")
        .exclude(author__is_staff=True)
        .exclude(is_quiet=True)
        .exists()
    )


@staff_required
@require_POST
def ticket_forward(request: HttpRequest, reference: str) -> HttpResponse:
    """Forward an entry (or a text) to an outside address, a supplier."""
    ticket = _ticket_or_404(request, reference)
    form = ForwardForm(request.POST, ticket=ticket)
    if not form.is_valid():
        context = _detail_context(request, ticket, forward_form=form)
        return render(request, "tickets/detail.html", context, status=400)
    message = services.ticket_forward(ticket=ticket, actor=request.user, **form.forward_fields())
    messages.success(request, _("Forwarded to %(address)s.") % {"address": message.forwarded_to})
    return redirect(f"{ticket.get_absolute_url()}#message-{message.pk}")


def _apply_properties(ticket: Ticket, data: dict[str, Any], actor: Any) -> list[str]:
    """Apply what changed, through the services; the names of changed fields."""
    changed = []
    if data["team"] != ticket.team:
        services.ticket_team_set(ticket=ticket, team=data["team"], actor=actor)
        changed.append("team")
    if data["assigned_to"] != ticket.assigned_to:
        services.ticket_assign(ticket=ticket, assignee=data["assigned_to"], actor=actor)
        changed.append("assigned_to")
    if data["category"] != ticket.category:
        services.ticket_category_set(ticket=ticket, category=data["category"], actor=actor)
        changed.append("category")
    if data["priority"] != ticket.priority:
        services.ticket_priority_set(ticket=ticket, priority=data["priority"], actor=actor)
        changed.append("priority")
    if data["status"] != ticket.status:
        services.ticket_transition(ticket=ticket, to=data["status"], actor=actor)
        changed.append("status")
    return changed


@staff_required
@require_POST
def ticket_transfer(request: HttpRequest, reference: str) -> HttpResponse:
    """Transfer to another agent or team with an optional reason."""
    ticket = _ticket_or_404(request, reference)
    form = TransferForm(request.POST, prefix="transfer")
    if not form.is_valid():
        context = _detail_context(request, ticket, transfer_form=form)
        return render(request, "tickets/detail.html", context, status=400)
    data = form.cleaned_data
    try:
        services.ticket_transfer(
            ticket=ticket,
            actor=request.user,
            assignee=data["assignee"],
            team=data["team"],
            reason=data["reason"],
        )
    except (ValidationError, PermissionDenied):
        messages.error(request, _("That change is not allowed."))
        return redirect(ticket)
    messages.success(request, _("Ticket transferred."))
    return redirect(ticket)


@staff_required
@require_POST
def ticket_take(request: HttpRequest, reference: str) -> HttpResponse:
    """Take it ("Assumir"): assign the ticket to oneself in one click."""
    ticket = _ticket_or_404(request, reference)
    changed = ticket.assigned_to_id != request.user.pk
    if changed:
        services.ticket_assign(ticket=ticket, assignee=request.user, actor=request.user)
    if not is_htmx(request):
        messages.success(request, _("The ticket is yours."))
        return redirect(ticket)
    return _properties_response(
        request, ticket, error="", changed=["assigned_to"] if changed else []
    )


@staff_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def ticket_properties(request: HttpRequest, reference: str) -> HttpResponse:
    """Status, priority, category, team and assignee, edited in place.

    htmx posts the whole small form on every change and swaps in the returned
    fragment; without JavaScript the form posts normally and redirects back.
    """
    ticket = _ticket_or_404(request, reference)
    error = ""
    changed: list[str] = []
    if request.method == "POST":
        form = PropertiesForm(request.POST, ticket=ticket)
        if form.is_valid():
            try:
                with transaction.atomic():
                    changed = _apply_properties(ticket, form.cleaned_data, request.user)
            except InvalidTransition as exc:
                error = _transition_error(exc)
            except (ValidationError, PermissionDenied):
                error = _("That change is not allowed.")
            ticket.refresh_from_db()
        else:
            error = _("Please correct the highlighted fields.")
        if not is_htmx(request):
            if error:
                messages.error(request, error)
            elif changed:
                messages.success(request, _("Ticket updated."))
            return redirect(ticket)
    return _properties_response(request, ticket, error=error, changed=changed)


def _properties_response(
    request: HttpRequest, ticket: Ticket, *, error: str, changed: list[str]
) -> HttpResponse:
    fresh = PropertiesForm(ticket=ticket)
    response = render(
        request,
        "tickets/_properties.html",
        {
            "ticket": ticket,
            "properties_form": fresh,
            "error": error,
            "changed": changed,
            # The badges and the poller follow the edit (out of band).
            "live_version": live_version(ticket, request.user),
            "live_seconds": LIVE_SECONDS,
        },
    )
    if changed:
        # Lets the thread (and web-extras' widgets) refresh themselves.
        response["HX-Trigger"] = "ticketChanged"
    return response

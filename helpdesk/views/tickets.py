"""The ticket list: filters, sort, search, paging, bulk actions, saved views."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from helpdesk.decorators import is_htmx, staff_required
from helpdesk.models import SavedView, User
from helpdesk.paging import UncountedPaginator
from helpdesk.roles import is_staff_member
from helpdesk.ticket_filters import TicketFilterForm, apply_filters, filter_querystring
from helpdesk.ticket_forms import BulkForm, SavedViewForm, staff_users
from tickets import selectors, services
from tickets.models import Ticket
from tickets.states import ACTIVE_STATUSES, InvalidTransition, Status


def saved_views_for(user: object) -> list[SavedView]:
    own = Q(owner=user)
    visible = own | Q(shared=True) if is_staff_member(user) else own  # type: ignore[arg-type]
    return list(SavedView.objects.filter(visible).select_related("owner"))


@login_required
@require_GET
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def ticket_list(request: HttpRequest) -> HttpResponse:
    staff = is_staff_member(request.user)
    # One read of the assignable people for the filter and the bulk form.
    people = list(staff_users()) if staff else []
    form = TicketFilterForm(request.GET, user=request.user, staff=people)
    query = apply_filters(selectors.ticket_list(user=request.user), form)
    rows = (
        selectors.with_tags(selectors.with_waiting_since(query.queryset))
        if staff
        else query.queryset
    )
    paginator = (
        Paginator(rows, query.per_page)
        if query.counted
        else UncountedPaginator(rows, query.per_page)
    )
    page = paginator.get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "tickets": list(page.object_list),
        "active_statuses": ACTIVE_STATUSES,
        "sort": query.sort,
        # A search for a common word, listed newest first instead of by relevance.
        "unranked_search": not query.counted and not form.values().get("sort"),
        "more_than": max(query.more_than, page.end_index()),
        "querystring": filter_querystring(request.GET),
        "is_staff_view": staff,
    }
    if is_htmx(request):
        context["oob"] = True
        return render(request, "tickets/_list_results.html", context)
    context.update(
        {
            "bulk_form": BulkForm() if staff else None,
            "bulk_assignees": people,
            "saved_views": saved_views_for(request.user),
            "saved_view_form": SavedViewForm(initial={"querystring": context["querystring"]}),
        }
    )
    return render(request, "tickets/list.html", context)


def _back_to_list(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}) or not target.startswith(
        "/tickets/"
    ):
        target = reverse("ticket_list")
    return HttpResponseRedirect(target)


def _apply_bulk(form: BulkForm, ticket: Ticket, actor: object) -> None:
    action = form.cleaned_data["action"]
    if action == "assign":
        services.ticket_assign(ticket=ticket, assignee=form.cleaned_data["assignee"], actor=actor)
    elif action == "status":
        services.ticket_transition(ticket=ticket, to=form.cleaned_data["status"], actor=actor)
    elif action == "priority":
        services.ticket_priority_set(
            ticket=ticket, priority=form.cleaned_data["priority"], actor=actor
        )
    elif action == "team":
        services.ticket_transfer(ticket=ticket, team=form.cleaned_data["team"], actor=actor)
    elif action == "close":
        services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=actor)
    elif action == "tag":
        services.ticket_tag_add(ticket=ticket, name=form.cleaned_data["tag"], actor=actor)


@staff_required
@require_POST
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _back_to_list(request)
    references = form.cleaned_data["tickets"]
    # Only tickets this agent may see; a foreign reference is silently dropped
    # exactly like a missing one.
    tickets = list(selectors.ticket_list(user=request.user).filter(reference__in=references))
    done, failed = [], []
    for ticket in tickets:
        try:
            with transaction.atomic():
                _apply_bulk(form, ticket, request.user)
            done.append(ticket.reference)
        except InvalidTransition as exc:
            failed.append(
                _("%(ref)s: cannot move from %(old)s to %(new)s")
                % {
                    "ref": ticket.reference,
                    "old": Status(exc.old).label,
                    "new": Status(exc.new).label,
                }
            )
        except (ValidationError, PermissionDenied):
            failed.append(_("%(ref)s: not allowed") % {"ref": ticket.reference})
    missing = len(set(references)) - len(tickets)
    if done:
        messages.success(
            request,
            _("Updated %(count)d ticket(s): %(refs)s")
            % {"count": len(done), "refs": ", ".join(done)},
        )
    for failure in failed:
        messages.error(request, failure)
    if missing:
        messages.error(request, _("%(count)d ticket(s) not found.") % {"count": missing})
    return _back_to_list(request)


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    assert isinstance(request.user, User)
    if form.is_valid():
        querystring = filter_querystring(QueryDict(form.cleaned_data["querystring"]))
        try:
            with transaction.atomic():
                SavedView.objects.create(
                    owner=request.user,
                    name=form.cleaned_data["name"],
                    querystring=querystring,
                    shared=bool(form.cleaned_data["shared"]) and is_staff_member(request.user),
                )
            messages.success(request, _("View saved."))
        except IntegrityError:
            messages.error(request, _("You already have a view with that name."))
        return redirect(reverse("ticket_list") + ("?" + querystring if querystring else ""))
    messages.error(request, _("Give the view a name."))
    return redirect("ticket_list")


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, _("View deleted."))
    return redirect("ticket_list")

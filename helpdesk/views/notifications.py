"""The bell, the notification list and marking notifications read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from helpdesk.notifications import mark_read, unread_count, visible_notifications
from helpdesk.templatetags.helpdesk_extras import poll_seconds
from tickets import selectors
from tickets.models import Ticket


@never_cache
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The polled fragment: one COUNT query. 204 once signed out, so htmx
    leaves the page alone instead of swapping a login form into the nav."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(
        request,
        "helpdesk/partials/notification_bell.html",
        {"unread": unread_count(request.user), "poll_seconds": poll_seconds()},
    )


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    qs = visible_notifications(request.user).select_related("ticket", "actor")
    show = request.GET.get("show", "all")
    if show == "unread":
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "helpdesk/notifications/list.html",
        {"page": page, "show": show, "unread": unread_count(request.user)},
    )


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to its ticket."""
    notification = get_object_or_404(visible_notifications(request.user), pk=pk)
    mark_read(request.user, ids=[notification.pk])
    return redirect(notification.ticket.get_absolute_url())


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    mark_read(request.user)
    if request.headers.get("HX-Request"):
        return render(
            request,
            "helpdesk/partials/notification_bell.html",
            {"unread": 0, "poll_seconds": poll_seconds()},
        )
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/notifications/"
    return HttpResponseRedirect(target)


@login_required
@require_POST
def ticket_notifications_seen(request: HttpRequest, reference: str) -> HttpResponse:
    """Opening a ticket marks its notifications read (posted by htmx on load);
    the answer refreshes the bell out of band."""
    try:
        ticket = selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None
    mark_read(request.user, ticket=ticket)
    return render(
        request,
        "helpdesk/partials/notification_bell.html",
        {"unread": unread_count(request.user), "oob": True, "poll_seconds": poll_seconds()},
    )

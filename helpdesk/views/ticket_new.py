"""Opening a ticket from the web, for yourself or (staff) for a customer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from helpdesk.accounts import customer_get_or_create
from helpdesk.models import User
from helpdesk.roles import is_staff_member
from helpdesk.ticket_forms import TicketCreateForm
from helpdesk.uploads import to_new_attachment
from tickets import services
from tickets.models import Source


@login_required
@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    staff = is_staff_member(user)
    # A web sign-up must follow its verification link before its first ticket.
    unverified = not staff and not getattr(user, "email_verified", True)
    form = TicketCreateForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST" and not unverified and form.is_valid():
        data = form.cleaned_data
        requester = user
        if staff and data.get("requester_email"):
            requester = customer_get_or_create(
                email=data["requester_email"], full_name=data.get("requester_name", "")
            )
        with transaction.atomic():
            ticket = services.ticket_create(
                requester=requester,
                actor=user,
                subject=data["subject"],
                body=data["description"],
                category=data["category"],
                priority=data["priority"],
                source=Source.WEB,
                attachments=[to_new_attachment(f) for f in data["attachments"]],
            )
        messages.success(
            request,
            _("Ticket %(reference)s is open. A confirmation mail is on its way to %(email)s.")
            % {"reference": ticket.reference, "email": requester.email},
        )
        return redirect(ticket)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "tickets/new.html", {"form": form, "unverified": unverified}, status=status
    )

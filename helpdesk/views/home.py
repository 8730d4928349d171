"""The dashboard at /, different per role."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from helpdesk import dashboard
from helpdesk.roles import is_manager, is_staff_member


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, object] = {}
    if is_manager(user):
        context["manager"] = dashboard.manager_dashboard(user)
    if is_staff_member(user):
        context["agent"] = dashboard.agent_dashboard(user)
    else:
        context["customer"] = dashboard.customer_dashboard(user)
    return render(request, "helpdesk/home.html", context)

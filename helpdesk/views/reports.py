"""The manager's customer-satisfaction summary."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Avg, Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from helpdesk.models import SatisfactionRating
from helpdesk.resolution import satisfaction_summary
from tickets import access


@login_required
@require_GET
def satisfaction_report(request: HttpRequest) -> HttpResponse:
    if not access.is_manager(request.user):
        raise Http404
    by_agent = (
        SatisfactionRating.objects.values(
            "ticket__assigned_to__full_name", "ticket__assigned_to__email"
        )
        .annotate(count=Count("id"), average=Avg("score"))
        .order_by("-count")[:50]
    )
    latest = SatisfactionRating.objects.select_related("ticket", "user").exclude(comment="")[:20]
    return render(
        request,
        "helpdesk/reports/satisfaction.html",
        {
            "all_time": satisfaction_summary(),
            "last_30": satisfaction_summary(since=timezone.now() - timedelta(days=30)),
            "by_agent": by_agent,
            "latest": latest,
        },
    )

"""The managers' reports: the metrics dashboard, its CSV, customer satisfaction."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Avg, Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from helpdesk import reports
from helpdesk.audit import audit_record
from helpdesk.models import AuditEntry, SatisfactionRating
from helpdesk.report_forms import ReportFilterForm
from helpdesk.resolution import satisfaction_summary
from tickets import access, metrics


def _require_manager(request: HttpRequest) -> None:
    if not access.is_manager(request.user):
        raise Http404


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = ReportFilterForm(request.GET)
    report = metrics.report(form.filters())
    return render(
        request,
        "helpdesk/reports/dashboard.html",
        {
            "form": form,
            "report": report,
            "charts": reports.chart_data(report),
            "statuses": reports.status_rows(report),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = ReportFilterForm(request.GET)
    filters = form.filters()
    report = metrics.report(filters)
    team = form.cleaned_data.get("team") if form.is_valid() else None
    name = f"reports-{filters.first_day.isoformat()}-{filters.last_day.isoformat()}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    audit_record(
        action=AuditEntry.Action.EXPORT,
        object_type="reports",
        object_repr=name,
        detail=request.GET.urlencode()[:500],
    )
    writer = csv.writer(response)
    writer.writerow(["section", "key", "metric", "value"])
    writer.writerows(reports.csv_rows(report, team_name=team.name if team else ""))
    return response


@login_required
@require_GET
def satisfaction_report(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
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

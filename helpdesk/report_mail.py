"""The report summary mail (send_reports): the period's key numbers and a
link to the dashboard, for managers and the admins who opted in.

One outbox row per recipient and period, keyed by both, so a second
send_reports for the same period (two cron copies, a scheduler and a cron)
queues nothing more. The row holds who and which days; the numbers are
computed and written when the worker builds the mail, in the recipient's
language, like the other account mails (helpdesk.account_mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk.account_mail import text_mail
from helpdesk.models import User
from helpdesk.roles import Role
from outbound.enqueue import outbox_add
from outbound.mails import MissingObject
from outbound.models import OutboxItem
from tickets import metrics

KIND = "report-summary"
PERIODS = {"daily": 1, "weekly": 7}


@dataclass(frozen=True)
class Period:
    name: str  # daily or weekly
    first_day: date
    last_day: date


def period_ending_yesterday(name: str, *, today: date | None = None) -> Period:
    """Yesterday, or the seven days up to yesterday, in the helpdesk's time zone."""
    if name not in PERIODS:
        raise ValueError(f"unknown period {name!r}")
    with timezone.override(settings.TIME_ZONE):
        last = (today or timezone.localdate()) - timedelta(days=1)
    return Period(name=name, first_day=last - timedelta(days=PERIODS[name] - 1), last_day=last)


def recipients() -> QuerySet[User]:
    return User.objects.filter(is_active=True).filter(
        Q(role=Role.MANAGER) | Q(role=Role.ADMIN, reports_mail=True)
    )


def queue_reports(period: Period) -> int:
    """Queue the period's summary for every recipient; returns how many were new."""
    queued = 0
    for user in recipients():
        item = OutboxItem(
            kind=OutboxItem.Kind.EMAIL,
            event=KIND,
            recipient=user.email,
            dedupe_key=f"report:{period.name}:{period.first_day.isoformat()}:{user.pk}",
            payload={
                "account": KIND,
                "user_id": user.pk,
                "to": user.email,
                "period": period.name,
                "first_day": period.first_day.isoformat(),
                "last_day": period.last_day.isoformat(),
            },
        )
        try:
            with transaction.atomic():
                queued += len(outbox_add([item]))
        except IntegrityError:
            pass  # another send_reports queued this one a moment ago
    return queued


def build(payload: dict[str, Any], connection: Any = None) -> EmailMultiAlternatives:
    user = recipients().filter(pk=payload["user_id"]).first()
    if user is None:
        raise MissingObject("the recipient no longer gets reports")  # skipped, not retried
    first, last = date.fromisoformat(payload["first_day"]), date.fromisoformat(payload["last_day"])
    with timezone.override(settings.TIME_ZONE):
        report = metrics.report(metrics.Filters.days(first, last))
    query = urlencode({"period": "custom", "start": first.isoformat(), "end": last.isoformat()})
    context = {
        "user": user,
        "report": report,
        "weekly": payload.get("period") == "weekly",
        "first_day": first,
        "last_day": last,
        "link": f"{settings.HELPDESK_BASE_URL}{reverse('reports')}?{query}",
    }
    return text_mail(KIND, user, context, connection)

"""seed_demo --history: ninety living days for the reports, once."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from helpdesk.models import Notification, SatisfactionRating
from outbound.models import OutboxItem
from tickets import metrics
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def test_it_seeds_ninety_living_days_once() -> None:
    out = StringIO()
    call_command("seed_demo", "--history", stdout=out)
    count = Ticket.objects.count()
    assert 150 <= count <= 500, count
    span = Ticket.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert span["first"] < timezone.now() - timedelta(days=80)
    assert span["last"] > timezone.now() - timedelta(days=3)
    assert set(Ticket.objects.values_list("source", flat=True)) >= {"web", "email"}
    assert Message.objects.filter(author__is_staff=True, kind="reply").count() > count // 2
    assert Ticket.objects.filter(status="closed").count() > count // 3
    assert SatisfactionRating.objects.count() > 20
    assert TicketEvent.objects.filter(
        kind="status", old_value="resolved", new_value="open"
    ).exists()
    report = metrics.report(metrics.Filters.last_days(90))
    assert report.created == count and report.first_response.median
    if report.sla is not None:
        assert 0 < report.sla.part < report.sla.whole  # a few SLAs were missed
    # Made-up history mails nobody.
    assert OutboxItem.objects.count() == 0 and Notification.objects.count() == 0
    call_command("seed_demo", "--history", stdout=(again := StringIO()))
    assert Ticket.objects.count() == count
    assert "History already seeded" in again.getvalue()

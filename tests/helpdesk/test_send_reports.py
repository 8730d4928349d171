"""send_reports: one summary per manager (and opted-in admin) and period,
through the outbox, written in each recipient's language at delivery."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.translation import gettext

from helpdesk import report_mail
from helpdesk.accounts import user_create
from outbound.mails import MissingObject, build_email
from outbound.models import OutboxItem
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def reports() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(event=report_mail.KIND).order_by("recipient"))


def test_it_mails_managers_and_the_admins_who_opt_in(
    manager: Any, admin_user: Any, agent: Any
) -> None:
    keen = user_create(email="keen@support.example", role="admin", full_name="Keen")
    keen.reports_mail = True
    keen.save()
    out = StringIO()
    call_command("send_reports", "--period", "daily", stdout=out)
    assert [i.recipient for i in reports()] == ["keen@support.example", manager.email]
    assert "queued 2 daily report mails" in out.getvalue()
    # A second copy (cron and scheduler, or two crons) queues nothing more.
    call_command("send_reports", "--period", "daily", stdout=StringIO())
    assert len(reports()) == 2
    call_command("send_reports", "--period", "weekly", stdout=StringIO())
    assert len(reports()) == 4


def test_the_periods_end_yesterday() -> None:
    daily = report_mail.period_ending_yesterday("daily", today=date(2026, 3, 16))
    weekly = report_mail.period_ending_yesterday("weekly", today=date(2026, 3, 16))
    assert (daily.first_day, daily.last_day) == (date(2026, 3, 15), date(2026, 3, 15))
    assert (weekly.first_day, weekly.last_day) == (date(2026, 3, 9), date(2026, 3, 15))


def test_the_mail_carries_the_key_numbers_in_the_recipients_language(
    manager: Any, customer: Any, settings: Any
) -> None:
    settings.HELPDESK_BASE_URL = "https://help.example.com"
    yesterday = timezone.now() - timedelta(days=1)
    for number in range(3):
        ticket = services.ticket_create(requester=customer, subject=f"s{number}", body="b")
        Ticket.objects.filter(pk=ticket.pk).update(created_at=yesterday)
    english = user_create(email="boss@support.example", role="manager", language="en")
    call_command("send_reports", stdout=StringIO())
    mails = {i.recipient: build_email(i.payload) for i in reports()}
    pt, en = mails[manager.email], mails[english.email]
    assert en.subject == "Yesterday in reports: 3 created, 0 resolved"
    assert "Open now: 3" in en.body and "Median first response: —" in en.body
    assert "https://help.example.com/reports/?period=custom&start=" in en.body
    assert "Satisfação dos clientes: —" in pt.body and "Customer satisfaction" not in pt.body
    with translation.override("pt-br"):
        expected = gettext("Yesterday in reports: %(created)s created, %(resolved)s resolved")
    assert pt.subject == expected % {"created": 3, "resolved": 0}
    assert en.extra_headers["Auto-Submitted"] == "auto-generated"


def test_a_manager_who_left_gets_no_mail(manager: Any) -> None:
    call_command("send_reports", stdout=StringIO())
    [item] = reports()
    manager.is_active = False
    manager.save()
    with pytest.raises(MissingObject):
        build_email(item.payload)


def test_admins_opt_in_on_their_profile(admin_user: Any, manager: Any) -> None:
    from tests.helpdesk.conftest import client_for

    assert (
        'name="reports_mail"' not in client_for(manager).get("/accounts/profile/").content.decode()
    )
    client = client_for(admin_user)
    assert 'name="reports_mail"' in client.get("/accounts/profile/").content.decode()
    client.post(
        "/accounts/profile/",
        {
            "full_name": "Ada Admin",
            "language": "en",
            "time_zone": "America/Sao_Paulo",
            "reports_mail": "on",
        },
    )
    admin_user.refresh_from_db()
    assert admin_user.reports_mail
    assert admin_user in report_mail.recipients()

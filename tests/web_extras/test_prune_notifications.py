from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from helpdesk.models import Notification

pytestmark = pytest.mark.django_db


def test_old_read_and_very_old_unread_notices_go(agent: Any, ticket: Any, capsys: Any) -> None:
    now = timezone.now()
    make = Notification.objects.create
    recent_read = make(recipient=agent, ticket=ticket, kind="reply", read_at=now)
    old_read = make(recipient=agent, ticket=ticket, kind="reply", read_at=now - timedelta(days=91))
    old_unread = make(recipient=agent, ticket=ticket, kind="reply")
    ancient_unread = make(recipient=agent, ticket=ticket, kind="reply")
    Notification.objects.filter(pk=old_unread.pk).update(created_at=now - timedelta(days=200))
    Notification.objects.filter(pk=ancient_unread.pk).update(created_at=now - timedelta(days=400))

    call_command("prune_notifications")
    assert capsys.readouterr().out.strip() == "prune_notifications: deleted 2 notifications"
    kept = set(Notification.objects.filter(recipient=agent).values_list("pk", flat=True))
    assert {recent_read.pk, old_unread.pk} <= kept
    assert not kept & {old_read.pk, ancient_unread.pk}
    call_command("prune_notifications")
    assert capsys.readouterr().out == ""  # quiet under cron when there is nothing to do
    with pytest.raises(CommandError):
        call_command("prune_notifications", "--days", "0")

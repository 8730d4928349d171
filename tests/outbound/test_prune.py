from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from outbound.models import OutboxItem


def test_it_prunes_old_delivered_rows_only(ticket: Any, agent: Any) -> None:
    from tickets import services

    services.ticket_reply_add(ticket=ticket, author=agent, body="x")
    services.ticket_reply_add(ticket=ticket, author=agent, body="y")
    old, failed, recent = OutboxItem.objects.order_by("id")
    OutboxItem.objects.filter(pk__in=[old.pk, failed.pk]).update(
        created_at=timezone.now() - timedelta(days=100)
    )
    OutboxItem.objects.filter(pk__in=[old.pk, recent.pk]).update(status="sent")
    OutboxItem.objects.filter(pk=failed.pk).update(status="failed")
    out = StringIO()
    call_command("prune_outbox", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "prune_outbox: would delete 1 rows older than 90 days"
    call_command("prune_outbox", stdout=StringIO())
    assert set(OutboxItem.objects.values_list("pk", flat=True)) == {failed.pk, recent.pk}
    with pytest.raises(CommandError):
        call_command("prune_outbox", "--days", "0")

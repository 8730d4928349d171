"""Django Tasks entry points for the outbox (run by `manage.py db_worker`)."""

from __future__ import annotations

from django_tasks import task

from outbound.delivery import deliver_due, deliver_ids


@task()
def deliver_outbox(ids: list[int]) -> int:
    """Deliver the rows one transaction wrote; enqueued when it commits."""
    return deliver_ids(ids)


@task()
def sweep_outbox() -> int:
    """Deliver whatever is due (retries, rows whose task was lost). Our
    db_worker sweeps by itself; enqueue this from cron for other backends."""
    return deliver_due()

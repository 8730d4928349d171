"""Writing outbox rows, inside the caller's transaction, and waking the worker
once that transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from outbound.models import OutboxItem

log = logging.getLogger(__name__)


class _Kick:
    """The on-commit callback of one transaction: enqueues one worker task
    for every outbox row the transaction wrote (not one task per row, which
    would cost a commit each)."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        from outbound.tasks import deliver_outbox

        try:
            deliver_outbox.enqueue(self.ids)
        except Exception:
            # The rows are committed; the worker's sweep delivers them anyway.
            log.exception("Could not enqueue the outbox task for %d items", len(self.ids))


def _kick_after_commit(ids: Iterable[int]) -> None:
    ids = [i for i in ids if i is not None]
    if not ids:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # Join the callback this transaction already registered, if any; a
        # rollback discards it together with the rows.
        for _sids, func, _robust in connection.run_on_commit:
            if isinstance(func, _Kick):
                func.ids.extend(ids)
                return
    kick = _Kick()
    kick.ids.extend(ids)
    transaction.on_commit(kick, robust=True)


def outbox_add(items: list[OutboxItem]) -> list[OutboxItem]:
    """Insert items (skipping any whose dedupe_key is already queued) and wake
    the worker after commit."""
    if not items:
        return []
    keys = [item.dedupe_key for item in items]
    existing = set(
        OutboxItem.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    fresh = [item for item in items if item.dedupe_key not in existing]
    created = OutboxItem.objects.bulk_create(fresh)
    if any(item.pk is None for item in created):
        # Backends without RETURNING: read the ids back by key.
        ids = list(
            OutboxItem.objects.filter(dedupe_key__in=[i.dedupe_key for i in fresh]).values_list(
                "id", flat=True
            )
        )
    else:
        ids = [item.pk for item in created]
    _kick_after_commit(ids)
    return created

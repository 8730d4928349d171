"""Heartbeats of the long-running processes (the worker, the scheduler).

Each process calls beat() from its loop; a write happens at most every
BEAT_EVERY seconds, so a busy worker costs one small UPDATE now and then. A
process that stops beating for HELPDESK_WORKER_STALE_SECONDS is taken for
dead: /healthz reports it, and the System page lists every process seen.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from helpdesk.models import Heartbeat

BEAT_EVERY = 15.0  # seconds between two writes of one process
# Rows of processes silent this long are deleted (a host renamed, pids reused).
FORGET_AFTER = timedelta(days=2)

_last_beat: dict[str, float] = {}
_started_at: dict[str, datetime] = {}


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "HELPDESK_WORKER_STALE_SECONDS", 120)))


def beat(kind: str, *, force: bool = False) -> bool:
    """Record that this process (of kind) is alive; True when a row was written.

    Never raises for a database error: a heartbeat must not take the worker
    down with it (the missing beat is what /healthz will then report).
    """
    key = f"{kind}:{socket.gethostname()}:{os.getpid()}"
    clock = time.monotonic()
    if not force and clock - _last_beat.get(key, -BEAT_EVERY) < BEAT_EVERY:
        return False
    now = timezone.now()
    started = _started_at.setdefault(key, now)
    try:
        updated = Heartbeat.objects.filter(key=key).update(seen_at=now)
        if not updated:
            Heartbeat.objects.update_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "host": socket.gethostname()[:150],
                    "pid": os.getpid(),
                    "started_at": started,
                    "seen_at": now,
                },
            )
            Heartbeat.objects.filter(seen_at__lt=now - FORGET_AFTER).delete()
    except DatabaseError:
        return False
    _last_beat[key] = clock
    return True


@dataclass(frozen=True)
class Liveness:
    kind: str
    alive: int  # processes seen within stale_after()
    last_seen: datetime | None  # the latest beat of any process of this kind

    @property
    def ok(self) -> bool:
        return self.alive > 0


def liveness(kind: str, *, now: datetime | None = None) -> Liveness:
    now = now or timezone.now()
    rows = list(Heartbeat.objects.filter(kind=kind).values_list("seen_at", flat=True))
    alive = sum(1 for seen in rows if now - seen <= stale_after())
    return Liveness(kind=kind, alive=alive, last_seen=max(rows, default=None))

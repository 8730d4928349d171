"""The embedded scheduler: the periodic jobs of config/deploy/crontab, for
installs without cron (`manage.py scheduler`, a Procfile process).

Each job is a management command run in this process at its interval or its
time of day (TIME_ZONE). A job whose command is not installed is left out,
so jobs other parts add (close_resolved, sla_check) join once they exist.

Two schedulers never run the same job twice: JobRun keeps when each job last
started, and a run is claimed by a conditional UPDATE from the value read
(`... WHERE name = %s AND last_started_at = <read>`), which only one of them
can win. A job that fails is recorded and tried again at its next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from io import StringIO
from time import monotonic

from django.conf import settings
from django.core.management import call_command, get_commands
from django.db.models import F, Q
from django.utils import timezone

from helpdesk.models import JobRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A command with its schedule: every `every`, or daily at `at` (on
    `weekday` only, 0 = Monday, when given)."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    every: timedelta | None = None
    at: time | None = None
    weekday: int | None = None

    def last_slot(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before now (time-of-day jobs)."""
        assert self.at is not None
        local = timezone.localtime(now)  # the helpdesk's TIME_ZONE
        slot = local.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        if slot > local:
            slot -= timedelta(days=1)
        if self.weekday is not None:
            slot -= timedelta(days=(slot.weekday() - self.weekday) % 7)
        return slot

    def is_due(self, last_started: datetime | None, now: datetime) -> bool:
        if self.every is not None:
            return last_started is None or now - last_started >= self.every
        return last_started is None or last_started < self.last_slot(now)


def default_jobs() -> list[Job]:
    """The crontab's jobs. IMAP polling is the Procfile's own process."""
    report_at = time(int(getattr(settings, "HELPDESK_REPORT_HOUR", 7)), 0)
    return [
        Job("sla_check", "sla_check", every=timedelta(minutes=5)),
        Job("availability_sync", "availability_sync", every=timedelta(minutes=5)),
        Job("close_resolved", "close_resolved", every=timedelta(hours=1)),
        Job("send_reports_daily", "send_reports", ("--period", "daily"), at=report_at),
        Job(
            "send_reports_weekly",
            "send_reports",
            ("--period", "weekly"),
            at=report_at.replace(minute=5),
            weekday=0,
        ),
        Job("backup", "backup", at=time(3, 15)),
        Job("cleanup_attachments", "cleanup_attachments", at=time(3, 45)),
        Job("prune_outbox", "prune_outbox", ("--days", "90"), at=time(4, 30), weekday=6),
        Job("prune_notifications", "prune_notifications", at=time(4, 35), weekday=6),
        Job("prune_audit", "prune_audit", at=time(4, 45), weekday=6),
    ]


def installed(jobs: Iterable[Job]) -> list[Job]:
    """The jobs whose command exists here, minus HELPDESK_SCHEDULER_SKIP."""
    commands = get_commands()
    skip = set(getattr(settings, "HELPDESK_SCHEDULER_SKIP", ()))
    return [job for job in jobs if job.command in commands and job.name not in skip]


def claim(job: Job, now: datetime) -> bool:
    """Take this run of job if it is due and no other scheduler took it."""
    # A time-of-day job seen for the first time waits for its next time, so
    # a fresh install does not send yesterday's report or back up at noon.
    first_start = None if job.every is not None else now
    row, _created = JobRun.objects.get_or_create(
        name=job.name, defaults={"last_started_at": first_start}
    )
    if not job.is_due(row.last_started_at, now):
        return False
    read = (
        Q(last_started_at__isnull=True)
        if row.last_started_at is None
        else Q(last_started_at=row.last_started_at)
    )
    return JobRun.objects.filter(read, pk=row.pk).update(last_started_at=now) == 1


def run_job(job: Job, *, run: Callable[..., object] = call_command) -> bool:
    """Run the job's command; record how it ended. True when it succeeded."""
    out = StringIO()
    error = ""
    started = monotonic()
    try:
        run(job.command, *job.args, stdout=out, stderr=out)
    except (Exception, SystemExit) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("scheduled job %s failed", job.name)
    else:
        if out.getvalue().strip():
            log.info("scheduled job %s: %s", job.name, out.getvalue().strip()[:2000])
    log.info(
        "scheduled job %s %s",
        job.name,
        "failed" if error else "done",
        extra={
            "event": "job.run",
            "job": job.name,
            "ok": not error,
            "ms": int((monotonic() - started) * 1000),
        },
    )
    JobRun.objects.filter(name=job.name).update(
        last_finished_at=timezone.now(),
        last_ok=not error,
        last_error=error[:2000],
        runs=F("runs") + 1,
    )
    return not error


def run_due(
    jobs: Iterable[Job] | None = None,
    *,
    now: datetime | None = None,
    run: Callable[..., object] = call_command,
) -> list[str]:
    """Run every job that is due now and this scheduler could claim; their names."""
    ran = []
    for job in installed(default_jobs() if jobs is None else jobs):
        if claim(job, now or timezone.now()):
            run_job(job, run=run)
            ran.append(job.name)
    return ran

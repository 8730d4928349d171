"""The embedded scheduler: each job on its schedule, never twice at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from helpdesk.models import JobRun
from helpdesk.ops import scheduler
from helpdesk.ops.scheduler import Job

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Sao_Paulo")
MONDAY_8 = datetime(2026, 3, 16, 8, 0, tzinfo=TZ)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, command: str, *args: str, **kwargs: Any) -> None:
        self.calls.append((command, *args))


def test_an_interval_job_runs_at_once_then_every_interval() -> None:
    job = Job("cleanup", "cleanup_attachments", every=timedelta(minutes=5))
    run = Recorder()
    assert scheduler.run_due([job], now=MONDAY_8, run=run) == ["cleanup"]
    assert scheduler.run_due([job], now=MONDAY_8 + timedelta(minutes=4), run=run) == []
    assert scheduler.run_due([job], now=MONDAY_8 + timedelta(minutes=5), run=run) == ["cleanup"]
    assert run.calls == [("cleanup_attachments",)] * 2
    row = JobRun.objects.get(name="cleanup")
    assert row.runs == 2 and row.last_ok and row.last_finished_at is not None


def test_a_daily_job_waits_for_its_time_and_runs_once_a_day() -> None:
    job = Job("daily", "send_reports", ("--period", "daily"), at=time(7, 0))
    run = Recorder()
    # First seen at 8:00: today's 7:00 has passed; it waits for tomorrow's.
    assert scheduler.run_due([job], now=MONDAY_8, run=run) == []
    tomorrow = MONDAY_8 + timedelta(days=1)
    assert scheduler.run_due([job], now=tomorrow - timedelta(hours=1, minutes=1), run=run) == []
    assert scheduler.run_due([job], now=tomorrow - timedelta(minutes=59), run=run) == ["daily"]
    assert scheduler.run_due([job], now=tomorrow, run=run) == []
    assert run.calls == [("send_reports", "--period", "daily")]


def test_a_weekly_job_runs_on_its_weekday() -> None:
    job = Job("weekly", "send_reports", at=time(7, 5), weekday=0)
    assert job.last_slot(MONDAY_8) == datetime(2026, 3, 16, 7, 5, tzinfo=TZ)
    assert job.last_slot(MONDAY_8 - timedelta(hours=1)) == datetime(2026, 3, 9, 7, 5, tzinfo=TZ)
    assert job.is_due(datetime(2026, 3, 10, tzinfo=TZ), MONDAY_8)
    assert not job.is_due(datetime(2026, 3, 16, 7, 6, tzinfo=TZ), MONDAY_8 + timedelta(days=3))


def test_two_schedulers_never_run_the_same_job_twice() -> None:
    job = Job("cleanup", "cleanup_attachments", every=timedelta(minutes=5))
    JobRun.objects.create(name="cleanup", last_started_at=MONDAY_8 - timedelta(hours=1))
    # Both read the row before either claims it; only one UPDATE matches.
    stale = JobRun.objects.get(name="cleanup")
    assert scheduler.claim(job, MONDAY_8)
    won = JobRun.objects.filter(pk=stale.pk, last_started_at=stale.last_started_at).update(
        last_started_at=MONDAY_8
    )
    assert won == 0
    assert not scheduler.claim(job, MONDAY_8)


def test_a_failing_job_is_recorded_and_tried_again_next_time() -> None:
    job = Job("boom", "cleanup_attachments", every=timedelta(minutes=5))

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    assert scheduler.run_due([job], now=MONDAY_8, run=explode) == ["boom"]
    row = JobRun.objects.get(name="boom")
    assert not row.last_ok and "disk full" in row.last_error
    assert scheduler.run_due([job], now=MONDAY_8 + timedelta(minutes=5), run=Recorder())
    assert JobRun.objects.get(name="boom").last_ok


def test_jobs_whose_command_does_not_exist_are_left_out(settings: Any) -> None:
    jobs = [Job("ghost", "no_such_command", every=timedelta(minutes=1)), *scheduler.default_jobs()]
    names = {job.name for job in scheduler.installed(jobs)}
    assert "ghost" not in names and "send_reports_daily" in names
    settings.HELPDESK_SCHEDULER_SKIP = ["backup"]
    assert "backup" not in {job.name for job in scheduler.installed(jobs)}


def test_once_runs_what_is_due_and_exits(settings: Any) -> None:
    interval_jobs = [j.name for j in scheduler.default_jobs() if j.every is not None]
    settings.HELPDESK_SCHEDULER_SKIP = interval_jobs
    JobRun.objects.create(name="cleanup_attachments", last_started_at=MONDAY_8)
    out = StringIO()
    call_command("scheduler", "--once", stdout=out)
    assert out.getvalue() == "ran cleanup_attachments\n"
    assert JobRun.objects.get(name="cleanup_attachments").runs == 1
    # The other time-of-day jobs are now known and wait for their time.
    assert JobRun.objects.filter(name="send_reports_daily", runs=0).exists()
    call_command("scheduler", "--once", stdout=(again := StringIO()))
    assert again.getvalue() == ""


def test_the_crontab_and_the_procfile_run_the_same_jobs() -> None:
    from django.conf import settings

    crontab = (settings.BASE_DIR / "config" / "deploy" / "crontab").read_text()
    for job in scheduler.default_jobs():
        assert "manage.py " + " ".join((job.command, *job.args)) in crontab, job.name
    assert "poll_imap" in crontab
    procfile = (settings.BASE_DIR / "Procfile").read_text()
    assert "scheduler: .venv/bin/python manage.py scheduler\n" in procfile

"""The durable outbox: outages, retries with backoff, failures, claims,
crash recovery — against real SMTP servers and a real worker process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from helpdesk import health
from outbound.bounces import is_bouncing
from outbound.conf import DEFAULT_BACKOFF, backoff_seconds
from outbound.delivery import claim, deliver_due, recover_stale, retry_now
from outbound.models import DeliveryAttempt, OutboxItem
from tests.mailgateway.conftest import database_url as _database_url
from tickets import services

from .conftest import CaptureHandler, SMTPCapture, free_port

Status = OutboxItem.Status


def later(minutes: float) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def test_backoff_doubles_from_a_minute_to_six_hours(settings: Any) -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff_seconds(50) == 6 * 3600 == DEFAULT_BACKOFF[-1]
    settings.HELPDESK_OUTBOX_BACKOFF = [5, 50]
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [5, 50, 50]


def test_it_loses_nothing_while_smtp_is_down(
    smtp_server: SMTPCapture, ticket: Any, agent: Any, customer: Any
) -> None:
    deliver_due()
    smtp_server.messages.clear()
    smtp_server.stop()  # the relay is down: connections are refused
    for n in range(20):
        services.ticket_reply_add(ticket=ticket, author=agent, body=f"update {n}")
    items = OutboxItem.objects.filter(status=Status.PENDING)
    assert items.count() == 20
    ids_before = dict(items.values_list("pk", "message_id"))

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    # One refused connection holds the whole queue until the relay's next
    # try, instead of twenty: nobody hammers a relay that is down.
    assert DeliveryAttempt.objects.filter(result="retry").count() == 1
    waiting = OutboxItem.objects.filter(status=Status.PENDING)
    assert waiting.count() == 20 and len({i.next_attempt_at for i in waiting}) == 1
    # Still down a minute later; the relay is tried once per round again.
    deliver_due(now=later(1.5))
    assert DeliveryAttempt.objects.filter(result="retry").count() == 2
    assert not OutboxItem.objects.filter(claimed_at__isnull=False).exists()
    assert all(i.next_attempt_at > later(3) for i in waiting.all())  # the wait doubled

    smtp_server.start()  # back up
    assert deliver_due(now=later(1.5)) == 0  # not due yet: nothing is rushed
    deliver_due(now=later(5))
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    deliver_due(now=later(500))

    got = Counter(m["Message-ID"].strip("<>") for m in smtp_server.mails())
    assert sorted(got) == sorted(ids_before.values())  # all 20, same Message-IDs
    assert set(got.values()) == {1}  # each exactly once
    assert OutboxItem.objects.filter(status=Status.SENT).count() == 21  # + the confirmation
    bodies = {
        m.get_body(("plain",)).get_content().split("\n")[0].strip() for m in smtp_server.mails()
    }
    assert bodies == {f"update {n}" for n in range(20)}


def test_it_gives_up_after_max_attempts(
    smtp_server: SMTPCapture, ticket: Any, settings: Any
) -> None:
    settings.HELPDESK_OUTBOX_MAX_ATTEMPTS = 3
    smtp_server.stop()
    for hours in (0, 7, 14, 21):
        deliver_due(now=later(hours * 60))
    item = OutboxItem.objects.get()
    assert item.status == Status.FAILED and item.attempts == 3
    assert "Connection" in item.last_error or "refused" in item.last_error.lower()
    assert list(item.deliveries.values_list("result", flat=True)) == ["failed", "retry", "retry"]

    smtp_server.start()
    assert retry_now(OutboxItem.objects.filter(status=Status.FAILED)) == 1
    deliver_due()
    item.refresh_from_db()
    assert item.status == Status.SENT
    assert [m["Message-ID"].strip("<>") for m in smtp_server.mails()] == [item.message_id]


def test_a_permanent_refusal_fails_at_once_and_marks_the_address_bouncing(
    smtp_server: SMTPCapture, ticket: Any, customer: Any
) -> None:
    smtp_server.handler.refuse[customer.email] = "550 5.1.1 No such user"
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == Status.FAILED and item.attempts == 1
    assert item.deliveries.get().status_code == 550
    assert is_bouncing(customer.email)


def test_a_temporary_refusal_is_retried(
    smtp_server: SMTPCapture, ticket: Any, customer: Any
) -> None:
    smtp_server.handler.refuse[customer.email] = "451 4.3.0 Try later"
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == Status.PENDING and item.deliveries.get().status_code == 451
    del smtp_server.handler.refuse[customer.email]
    deliver_due(now=later(2))
    item.refresh_from_db()
    assert item.status == Status.SENT and not is_bouncing(customer.email)


def test_only_one_worker_can_claim_a_row(ticket: Any) -> None:
    item = OutboxItem.objects.get()
    now = timezone.now()
    assert claim(item.pk, now) is not None
    assert claim(item.pk, now) is None
    assert OutboxItem.objects.get().attempts == 1


def test_a_row_left_sending_is_sent_again_after_the_timeout(
    smtp_server: SMTPCapture, ticket: Any
) -> None:
    item = OutboxItem.objects.get()
    assert claim(item.pk, timezone.now()) is not None  # a worker took it, then died
    assert deliver_due() == 0 and recover_stale() == 0  # not stale yet
    deliver_due(now=later(11))
    item.refresh_from_db()
    assert item.status == Status.SENT and item.attempts == 2
    assert [m["Message-ID"].strip("<>") for m in smtp_server.mails()] == [item.message_id]


def test_health_probe_reports_backlog_failures_and_age(ticket: Any) -> None:
    OutboxItem.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    probe = health.report()["checks"]["outbox"]
    assert probe["backlog"] == 1 and probe["failed"] == 0
    assert probe["oldest_pending_seconds"] >= 3599 and probe["ok"] is False
    OutboxItem.objects.update(status=Status.FAILED)
    probe = health.report()["checks"]["outbox"]
    assert probe == {**probe, "ok": True, "backlog": 0, "failed": 1}


@pytest.mark.django_db(transaction=True)
def test_the_task_is_enqueued_once_per_transaction(
    customer: Any, agent: Any, category: Any, smtp_server: SMTPCapture
) -> None:
    from django_tasks_db.models import DBTaskResult

    ticket = services.ticket_create(requester=customer, subject="s", body="b", category=category)
    assert DBTaskResult.objects.count() == 1  # enqueued on commit
    with transaction.atomic():
        services.ticket_reply_add(ticket=ticket, author=agent, body="one")
        services.ticket_reply_add(ticket=ticket, author=agent, body="two")
        assert DBTaskResult.objects.count() == 1  # nothing before the commit
    assert DBTaskResult.objects.count() == 2
    task = DBTaskResult.objects.order_by("enqueued_at").last()
    assert task is not None and len(task.args_kwargs["args"][0]) == 2
    # The worker runs the tasks; the sweep finds nothing left over.
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {Status.SENT}
    assert len(smtp_server.mails()) == OutboxItem.objects.count() == 4
    with transaction.atomic():
        services.ticket_reply_add(ticket=ticket, author=agent, body="three")
        transaction.set_rollback(True)
    assert DBTaskResult.objects.count() == 2  # a rolled-back change wakes nobody


# A worker process killed in the middle of an SMTP transaction.


class _StallingHandler(CaptureHandler):
    """Takes the whole message, then never answers (the worker hangs in DATA)."""

    def __init__(self) -> None:
        super().__init__()
        self.got_data = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        self.got_data.set()
        await asyncio.sleep(60)
        return "451 too late"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_no_mail(
    customer: Any, category: Any, settings: Any
) -> None:
    ticket = services.ticket_create(
        requester=customer, subject="Kill me", body="x", category=category
    )
    item = OutboxItem.objects.get(ticket=ticket)

    stalling = _StallingHandler()
    port = free_port()
    controller = Controller(stalling, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "HELPDESK_DATA_DIR": str(django_settings.DATA_DIR),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "-v0"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert stalling.got_data.wait(60), worker.stderr.read() if worker.poll() is not None else ""
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        controller.stop()
    item.refresh_from_db()
    assert item.status == Status.SENDING  # the crash left it claimed

    capture = SMTPCapture()
    capture.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = capture.host, capture.port
    try:
        deliver_due(now=later(11))  # past HELPDESK_OUTBOX_SENDING_TIMEOUT
    finally:
        capture.stop()
    item.refresh_from_db()
    assert item.status == Status.SENT
    first = stalling.messages[0][2]["Message-ID"]
    [again] = capture.mails()
    assert again["Message-ID"] == first == f"<{item.message_id}>"  # one duplicate, same id
    assert list(item.deliveries.order_by("id").values_list("result", flat=True)) == [
        "retry",
        "sent",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_mail_once(
    customer: Any, agent: Any, category: Any, smtp_server: SMTPCapture, settings: Any
) -> None:
    settings.HELPDESK_NOTIFY_MAX_PER_HOUR = 0  # 31 mails to one customer: no hourly cap here
    ticket = services.ticket_create(requester=customer, subject="Busy", body="x", category=category)
    for n in range(30):
        services.ticket_reply_add(ticket=ticket, author=agent, body=f"update {n}")
    expected = set(OutboxItem.objects.values_list("message_id", flat=True))
    assert len(expected) == 32  # confirmation, notice to the agent, 30 replies
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_HOST": smtp_server.host,
        "EMAIL_PORT": str(smtp_server.port),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "HELPDESK_DATA_DIR": str(django_settings.DATA_DIR),
    }
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "-v0"]
    workers = [
        subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]
    got = Counter(m["Message-ID"].strip("<>") for m in smtp_server.mails())
    assert set(got) == expected and set(got.values()) == {1}
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {Status.SENT}
    assert OutboxItem.objects.filter(attempts=1).count() == 32

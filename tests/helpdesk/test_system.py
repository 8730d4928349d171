"""Watching the helpdesk: worker and scheduler heartbeats in /healthz, the
installation probes, and the admins' System page."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from helpdesk import heartbeats
from helpdesk.models import Heartbeat, JobRun
from helpdesk.ops import probes
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from outbound.models import OutboxItem
from tests.helpdesk.conftest import client_for
from tests.mailgateway.conftest import database_url, make_mail
from tickets import services


def _healthz(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def _wait_for(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_healthz_turns_503_when_the_worker_stops(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    assert _healthz(client)[0] == 503  # no worker has ever run
    env = {
        "PATH": "/usr/bin:/bin",
        "HELPDESK_DATA_DIR": str(tmp_path / "worker-data"),
        "DATABASE_URL": database_url(),
        "SECRET_KEY": django_settings.SECRET_KEY,
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "-v0"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: _healthz(client)[0] == 200)
        status, body = _healthz(client)
        assert body["checks"]["worker"]["alive"] == 1
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    # Dead, but within the stale window: still counted until it lapses.
    assert _healthz(client)[1]["checks"]["worker"]["ok"] is True
    settings.HELPDESK_WORKER_STALE_SECONDS = 1
    time.sleep(1.5)
    status, body = _healthz(client)
    assert status == 503
    assert body["checks"]["worker"] == {**body["checks"]["worker"], "ok": False, "alive": 0}
    assert body["checks"]["worker"]["last_seen"] is not None


def test_a_heartbeat_is_written_at_most_every_few_seconds(db: Any) -> None:
    assert heartbeats.beat("worker", force=True) is True
    assert heartbeats.beat("worker") is False  # throttled: a busy loop costs nothing
    assert Heartbeat.objects.filter(kind="worker").count() == 1
    # A process long gone is forgotten the next time a new one starts beating.
    Heartbeat.objects.update(seen_at=timezone.now() - timedelta(days=3), key="worker:gone:1")
    heartbeats.beat("worker", force=True)
    assert list(Heartbeat.objects.values_list("key", flat=True)) != ["worker:gone:1"]
    assert Heartbeat.objects.count() == 1


def test_the_scheduler_is_unhealthy_only_once_it_ran_and_went_quiet(db: Any, settings: Any) -> None:
    assert probes.scheduler_probe()["ok"] is True  # cron installs never start it
    heartbeats.beat("scheduler", force=True)
    assert probes.scheduler_probe() == {**probes.scheduler_probe(), "ok": True, "running": True}
    Heartbeat.objects.update(seen_at=timezone.now() - timedelta(minutes=10))
    assert probes.scheduler_probe()["ok"] is False
    JobRun.objects.create(name="backup", last_ok=False, last_error="pg_dump: no space")
    assert probes.scheduler_probe()["failed_jobs"] == ["backup"]


def test_disk_and_migrations_are_checked(db: Any, settings: Any) -> None:
    assert probes.migrations_probe() == {"ok": True, "pending": []}
    disk = probes.disk_probe()
    assert disk["ok"] is True and set(disk["free_mb"]) == {"data", "raw", "media"}
    settings.HELPDESK_DISK_MIN_FREE_MB = 10**9  # a petabyte: no disk has that free
    assert probes.disk_probe()["ok"] is False


def test_the_healthcheck_command_fails_without_a_worker(db: Any, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("healthcheck")
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["checks"]["worker"]["ok"] is False


@pytest.fixture
def troubled(customer: Any, category: Any, settings: Any) -> dict[str, Any]:
    """A failed webhook-less mail in the outbox and a quarantined mail."""
    ticket = services.ticket_create(
        requester=customer, subject="Impressora", body="x", category=category
    )
    item = OutboxItem.objects.filter(ticket=ticket).first()
    assert item is not None
    OutboxItem.objects.filter(pk=item.pk).update(
        status=OutboxItem.Status.FAILED, attempts=8, last_error="550 5.1.1 no such user"
    )
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["elsewhere.example"]
    result = ingest_raw_email(
        make_mail(sender="Zé <ze@desconhecido.example>", subject="Fora da lista"), door="smtp"
    )
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    assert result.outcome == "quarantined"
    heartbeats.beat("worker", force=True)
    return {"item": item, "inbound": result.inbound_id}


def test_admins_see_the_system_page(
    admin_user: Any, troubled: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = client_for(admin_user)
    with django_assert_max_num_queries(25):
        response = client.get("/system/")
    assert response.status_code == 200
    page = response.content.decode()
    for check in ("database", "migrations", "worker", "disk", "outbox", "quarantine"):
        assert f'data-check="{check}"' in page
    assert "550 5.1.1 no such user" in page and "Fora da lista" in page
    assert 'href="/system/"' in page  # in the navigation
    assert "sqlite" in page.lower() or "postgresql" in page.lower()  # versions


def test_the_system_page_retries_the_outbox_and_reprocesses_the_quarantine(
    admin_user: Any, troubled: dict[str, Any]
) -> None:
    client = client_for(admin_user)
    assert client.post("/system/outbox/retry/").status_code == 302
    item = OutboxItem.objects.get(pk=troubled["item"].pk)
    assert (item.status, item.attempts) == (OutboxItem.Status.PENDING, 0)
    response = client.post("/system/quarantine/reprocess/", follow=True)
    assert InboundMessage.objects.get(pk=troubled["inbound"]).outcome == "created"
    assert "created: 1" in response.content.decode()


def test_managers_neither_see_nor_reach_the_system_page(manager: Any) -> None:
    client = client_for(manager)
    assert 'href="/system/"' not in client.get("/tickets/").content.decode()
    assert client.get("/system/").status_code == 404

"""The MTA pipe door, run as a real process the way Postfix runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailgateway.models import InboundMessage
from tests.mailgateway.conftest import database_url as _database_url
from tests.mailgateway.conftest import make_mail
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], raw_dir: Path, stdin: bytes | None = None, **env: str) -> Any:
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "HELPDESK_RAW_DIR": str(raw_dir),
        "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "ingest_email", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_it_ingests_files_and_reports_duplicates(tmp_path: Path, _raw_dir: Path) -> None:
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail())
    proc = run([str(mail), str(mail)], _raw_dir)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.decode().splitlines()
    reference = Ticket.objects.get().reference
    assert first == f"{mail} created {reference}"
    assert second == f"{mail} duplicate {reference}"


def test_it_reads_one_mail_from_stdin_with_the_postfix_envelope(_raw_dir: Path) -> None:
    proc = run(
        [],
        _raw_dir,
        stdin=make_mail(),
        SENDER="carla@cliente.com.br",
        RECIPIENT="support@example.com",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("- created HD-")
    row = InboundMessage.objects.get()
    assert row.door == "pipe" and row.envelope_from == "carla@cliente.com.br"
    assert row.envelope_rcpts == ["support@example.com"]


def test_it_exits_64_on_bad_usage(tmp_path: Path, _raw_dir: Path) -> None:
    proc = run([str(tmp_path / "missing.eml")], _raw_dir)
    assert proc.returncode == 64
    assert b"Traceback" not in proc.stderr
    assert run(["--no-such-option"], _raw_dir).returncode == 64


def test_it_exits_65_for_an_oversized_mail_and_stores_nothing(_raw_dir: Path) -> None:
    proc = run(
        [],
        _raw_dir,
        stdin=b"Subject: x\r\n\r\n" + b"x" * (1024 * 1024 + 10),
        HELPDESK_MAX_MESSAGE_MB="1",
    )
    assert proc.returncode == 65
    assert proc.stderr.decode().startswith("5.3.4")
    assert InboundMessage.objects.count() == 0


def test_it_exits_75_when_the_database_is_unavailable(tmp_path: Path, _raw_dir: Path) -> None:
    broken = "sqlite:////nonexistent-dir/db.sqlite3"
    proc = run([], _raw_dir, stdin=make_mail(), DATABASE_URL=broken)
    assert proc.returncode == 75, proc.stderr
    assert proc.stderr.decode().startswith("4.3.0")
    assert not any(p.is_file() for p in _raw_dir.rglob("*")) if _raw_dir.exists() else True

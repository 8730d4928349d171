"""Mail gateway fixtures: the raw archive in a temporary directory, fixture
mails read as bytes, and a helper that builds small mails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_program
from tests.mailgateway.dovecot import Dovecot, OAuthServer, start_dovecot, stop_dovecot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _raw_dir(settings: Any, tmp_path: Path) -> Path:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    settings.HELPDESK_AUTHSERV_ID = ""
    return tmp_path / "raw"


@pytest.fixture(autouse=True)
def _fresh_batch_workers() -> Iterator[None]:
    """The batch path's worker processes keep the settings of the test that
    forked them (MEDIA_ROOT, where they save attachments): a later test,
    a listener's say, must not inherit them."""
    yield
    from mailgateway import batch

    batch._drop_workers()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_mail(
    *,
    sender: str = "Carla Cliente <carla@cliente.com.br>",
    to: str = "support@example.com",
    subject: str = "Impressora parada",
    body: str = "Olá, a impressora não funciona.",
    cc: str = "",
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(domain="cliente.com.br")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


# IMAP and ESP doors: a real Dovecot, a local OAuth server, manage.py in a child process.


@pytest.fixture(scope="session")
def oauth_server() -> Iterator[OAuthServer]:
    oauth = OAuthServer()
    server = oauth.start()
    yield oauth
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def dovecot(oauth_server: OAuthServer) -> Iterator[Dovecot]:
    require_program("dovecot")  # tests/conftest.py checks it already; a fixture user is sure
    server = start_dovecot(oauth_server)
    yield server
    stop_dovecot(server)


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test db)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        # A child waits 5 s for SQLite's write lock, not a default install's
        # 30: the suites that hold the lock wait less for each "retry".
        return f"sqlite:///{Path(s['NAME']).resolve()}?timeout=5"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def manage(tmp_path: Path) -> Any:
    """Run manage.py in a child process against this test's database."""
    from django.conf import settings

    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HELPDESK_DATA_DIR": str(tmp_path / "child-data"),
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,  # so the child can decrypt mailbox secrets
        "LOG_LEVEL": "WARNING",
    }

    def popen(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return popen

"""Mail gateway fixtures: the raw archive in a temporary directory, fixture
mails read as bytes, and a helper that builds small mails."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "email"


@pytest.fixture(autouse=True)
def _raw_dir(settings: Any, tmp_path: Path) -> Path:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    settings.HELPDESK_AUTHSERV_ID = ""
    return tmp_path / "raw"


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

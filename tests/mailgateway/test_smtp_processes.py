"""`manage.py smtpd` as a real process under concurrent senders: killed with
SIGKILL mid-stream it loses no acknowledged mail and doubles none on the
senders' retries; and its memory stays flat over many mails."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from mailgateway.models import InboundMessage
from tests.mailgateway.test_pipe import ROOT, _database_url
from tests.mailgateway.test_smtp import free_port
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Listener:
    def __init__(self, raw_dir: Path, log: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "HELPDESK_RAW_DIR": str(raw_dir),
            "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
            "LOG_LEVEL": "WARNING",
        }
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "smtpd", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as client:
                    client.noop()
                return
            except OSError:
                assert self.proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the listener did not start"
                time.sleep(0.2)

    def send(self, raw: bytes, sender: str) -> int:
        """The reply code to the data, 0 when the connection failed."""
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as client:
                client.sendmail(sender, ["support@example.com"], raw)
            return 250
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code
        except (smtplib.SMTPException, OSError):
            return 0

    def rss_mb(self) -> float:
        """Resident memory of the listener process (its workers are apart)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def listener(_raw_dir: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Listener] = []

    def start() -> Listener:
        started.append(Listener(_raw_dir, tmp_path / "smtpd.log"))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def _mail(n: int) -> tuple[bytes, str]:
    """A varied stream from 400 senders: plain requests, HTML, and every
    fifth with a PDF of 20 to 640 KB (large buffers are where memory grows)."""
    sender = f"cliente{n % 400}@exemplo.com.br"
    msg = EmailMessage()
    msg["From"] = f"Cliente {n} <{sender}>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Pedido {n}: impressora parada"
    msg["Message-ID"] = make_msgid(idstring=f"m{n}", domain="exemplo.com.br")
    msg.set_content(f"Olá,\n\na impressora do andar {n} não imprime.\n\nObrigada\n")
    if n % 3 == 0:
        msg.add_alternative(
            f"<p>Olá, a <b>impressora</b> {n} parou.</p><script>x()</script>", "html"
        )
    if n % 5 == 0:
        pdf = os.urandom(20_000 * 2 ** (n % 6))
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes().replace(b"\n", b"\r\n"), sender


def test_a_killed_listener_loses_no_acknowledged_mail_and_retries_double_none(
    listener: Any, _raw_dir: Path
) -> None:
    mails = [_mail(n) for n in range(400)]
    first = listener()
    acknowledged: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def deliver(n: int) -> None:
        if killed.is_set():
            return
        if first.send(*mails[n]) == 250:
            with lock:
                acknowledged.add(n)
                if len(acknowledged) >= 60 and not killed.is_set():
                    killed.set()
                    first.proc.send_signal(signal.SIGKILL)  # mid-stream: others in flight

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(deliver, range(len(mails))))
    first.proc.wait(timeout=60)
    assert first.proc.returncode == -signal.SIGKILL

    # Durability rule 2: every 250 was a committed, processed row with its raw file.
    rows = {row.message_id: row for row in InboundMessage.objects.all()}
    for n in acknowledged:
        row = rows[mails[n][0].split(b"Message-ID: <")[1].split(b">")[0].decode()]
        assert row.outcome == "created" and row.ticket_id is not None
    for row in rows.values():
        assert (_raw_dir / row.raw_path).is_file()

    # The senders retry whatever got no 250 (and one a 250 it never read):
    # every mail makes exactly one ticket.
    second = listener()
    retries = [n for n in range(len(mails)) if n not in acknowledged] + [min(acknowledged)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(lambda n: second.send(*mails[n]), retries))
    assert codes == [250] * len(retries)
    assert Ticket.objects.count() == len(mails)
    assert InboundMessage.objects.filter(outcome="created").count() == len(mails)


WARM_UP = 400
SOAK = 1100
RSS_BOUND_MB = 10


def test_memory_stays_flat_over_many_mails(listener: Any) -> None:
    server = listener()

    def run(numbers: range) -> list[int]:
        with ThreadPoolExecutor(max_workers=10) as pool:
            return list(pool.map(lambda n: server.send(*_mail(n)), numbers))

    assert set(run(range(WARM_UP))) == {250}
    after_warm_up = server.rss_mb()
    assert set(run(range(WARM_UP, WARM_UP + SOAK))) == {250}
    grown = server.rss_mb() - after_warm_up
    # It grew 17 MB per 1,000 mails before the leaks were found.
    assert grown < RSS_BOUND_MB, f"RSS grew {grown:.1f} MB over {SOAK} mails"
    assert InboundMessage.objects.count() == WARM_UP + SOAK

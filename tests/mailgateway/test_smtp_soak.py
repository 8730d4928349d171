"""`manage.py smtpd` as a real process under concurrent senders: its memory
stays flat over many mails. (Killed mid-stream, restarted, its database
gone: tests/faults/test_f2_smtp.py and test_f3_database.py.)"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailgateway.models import InboundMessage
from tests.mailgateway.test_pipe import ROOT, _database_url
from tests.mailgateway.test_smtp import free_port

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
def listener(_raw_dir: Path, tmp_path: Path) -> Iterator[Listener]:
    server = Listener(_raw_dir, tmp_path / "smtpd.log")
    yield server
    server.stop()


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


WARM_UP = 400
SOAK = 1100
RSS_BOUND_MB = 10


def test_memory_stays_flat_over_many_mails(listener: Listener) -> None:
    server = listener

    def run(numbers: range) -> list[int]:
        with ThreadPoolExecutor(max_workers=10) as pool:
            return list(pool.map(lambda n: server.send(*_mail(n)), numbers))

    assert set(run(range(WARM_UP))) == {250}
    after_warm_up = server.rss_mb()
    assert set(run(range(WARM_UP, WARM_UP + SOAK))) == {250}
    grown = server.rss_mb() - after_warm_up
    # It grew ~20 MB per 1,000 mails before glibc's mmap threshold was fixed
    # (mailgateway.smtp.steady_malloc).
    assert grown < RSS_BOUND_MB, f"RSS grew {grown:.1f} MB over {SOAK} mails"
    assert InboundMessage.objects.count() == WARM_UP + SOAK

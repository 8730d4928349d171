"""The inbound abuse suites' (B3, B7, B8, B9) shared parts: hostile mails
built to a size, the real doors (`manage.py ingest_email` as the MTA's pipe,
`manage.py smtpd` as the listener) each run in a process of its own and
measured (wall time, peak RSS from the kernel), and the check that a mail
was stored, never dropped: a row, its outcome, its reason, its raw bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import smtplib
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailgateway.models import InboundMessage
from tests.faults import ledger

ROOT = ledger.ROOT
HANG_GUARD = 300  # seconds: a hang guard, not a timing assertion

HEAD = (
    b"From: Carla <carla@cliente.com.br>\r\nTo: support@example.com\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 -0300\r\nMIME-Version: 1.0\r\n"
)


def mail(tag: str, rest: bytes, *, head: bytes = HEAD) -> bytes:
    """head, a Subject and Message-ID named after tag, then rest (more
    headers, the blank line, the body)."""
    return (
        head
        + b"Subject: %s\r\nMessage-ID: <%s@abuse.test>\r\n" % (tag.encode(), tag.encode())
        + rest
    )


# B3: the structure bombs, each built to size n.


def deep_multipart(n: int) -> bytes:
    body = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(n)
    )
    body += b"Content-Type: text/plain\r\n\r\nfundo\r\n"
    body += b"".join(b"--b%d--\r\n" % i for i in reversed(range(n)))
    return mail("deep-multipart", body)


def many_parts(n: int) -> bytes:
    parts = b"".join(b"--XX\r\nContent-Type: text/plain\r\n\r\nparte %d\r\n" % i for i in range(n))
    return mail(
        "many-parts",
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n" + parts + b"--XX--\r\n",
    )


def many_addresses(n: int) -> bytes:
    half = n // 2
    to = b",\r\n ".join(b"u%d@x.example" % i for i in range(half))
    cc = b",\r\n ".join(b"Pessoa %d <c%d@y.example>" % (i, i) for i in range(n - half))
    head = b"From: a@b.example\r\nDate: Wed, 25 Nov 2026 10:00:00 -0300\r\n"
    return mail("many-addresses", b"To: " + to + b"\r\nCc: " + cc + b"\r\n\r\nbody\r\n", head=head)


def nested_comments(n: int) -> bytes:
    head = b"From: " + b"(" * n + b"x" + b")" * n + b" <a@b.example>\r\nTo: support@example.com\r\n"
    return mail("nested-comments", b"\r\ncorpo\r\n", head=head)


def long_header_line(n: int) -> bytes:
    return mail("long-header", b"X-Junk: " + b"a" * n + b"\r\n\r\ncorpo\r\n")


def many_headers(n: int) -> bytes:
    fields = b"".join(b"X-H%d: valor %d\r\n" % (i, i) for i in range(n))
    return mail("many-headers", fields + b"\r\ncorpo\r\n")


def zip_of_zeros(size: int) -> bytes:
    """A zip holding one file of size zero bytes (about 1,000:1 deflated)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as member,
    ):
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return buffer.getvalue()


def nested_zip(inner: bytes, copies: int) -> bytes:
    """A zip of copies zips (42.zip's first level)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(copies):
            archive.writestr(f"camada-{i}.zip", inner)
    return buffer.getvalue()


def with_attachments(tag: str, files: list[tuple[str, str, bytes]]) -> bytes:
    """A mail with a text part and files (name, content type, bytes), base64."""
    import base64

    parts = [b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsegue anexo\r\n"]
    for name, ctype, data in files:
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        parts.append(
            b"--B\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="%s"\r\n\r\n'
            % (ctype.encode(), name.encode())
            + encoded
        )
    return mail(
        tag, b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + b"".join(parts) + b"--B--\r\n"
    )


def html_elements(n: int) -> bytes:
    body = b"<html><body>" + b"".join(b"<p>%d</p>" % i for i in range(n)) + b"</body></html>"
    return mail("html-elements", b"Content-Type: text/html; charset=utf-8\r\n\r\n" + body + b"\r\n")


def html_nesting(n: int) -> bytes:
    body = b"<html><body>" + b"<div>" * n + b"fundo" + b"</div>" * n + b"</body></html>"
    return mail("html-nesting", b"Content-Type: text/html; charset=utf-8\r\n\r\n" + body + b"\r\n")


# The doors, each in a process of its own.


@pytest.fixture
def door_env(child_env: dict[str, str], settings: Any) -> dict[str, str]:
    """child_env (tests/faults/conftest.py), with this process reading the
    attachments where the children write them."""
    settings.MEDIA_ROOT = Path(child_env["HELPDESK_DATA_DIR"]) / "media"
    return child_env


@dataclass
class Run:
    """One child: its exit code, wall time, peak RSS and output."""

    code: int
    seconds: float
    rss_mb: float
    out: str = ""
    err: str = ""
    replies: list[str] = field(default_factory=list)


# A child's ru_maxrss counts the RSS of the process that forked it (the
# kernel keeps the forked copy's high-water mark across exec): forked from
# pytest it would read pytest's size. So each door is started by this small
# interpreter (about 10 MB), which reaps it with wait4 and reports its peak.
_MEASURED = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)

MEASURED_BY = (sys.executable, "-I", "-S", "-c", _MEASURED)


def _wait(proc: subprocess.Popen[bytes], limit: float = HANG_GUARD) -> int:
    deadline = time.monotonic() + limit
    while proc.poll() is None:
        if time.monotonic() > deadline:
            ledger.kill_group(proc)
            raise AssertionError(f"{proc.args!r} hung past {limit} s")
        time.sleep(0.01)
    return proc.returncode


def pipe(env: dict[str, str], raw: bytes, tmp: Path, *args: str) -> Run:
    """`manage.py ingest_email` fed raw on stdin, as Postfix's pipe(8) does."""
    source = tmp / f"stdin-{time.monotonic_ns()}.eml"
    source.write_bytes(raw)
    return run_manage(env, tmp, "ingest_email", *args, stdin=source)


def run_manage(env: dict[str, str], tmp: Path, *args: str, stdin: Path | None = None) -> Run:
    out, err, peak = tmp / "child.out", tmp / "child.err", tmp / "child.rss"
    started = time.monotonic()
    with contextlib.ExitStack() as files:
        proc = subprocess.Popen(
            [*MEASURED_BY, str(peak), sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdin=files.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL,
            stdout=files.enter_context(out.open("wb")),
            stderr=files.enter_context(err.open("wb")),
            start_new_session=True,
        )
    code = _wait(proc)
    return Run(
        code=code,
        seconds=time.monotonic() - started,
        rss_mb=int(peak.read_text()) / 1024,  # KiB on Linux
        out=out.read_text(errors="replace"),
        err=err.read_text(errors="replace")[-3000:],
    )


def _peak_rss_mb(pid: int) -> float:
    """A live process's peak RSS so far (VmHWM), 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Listener:
    """A fresh `manage.py smtpd` for one mail or a few: started here, stopped,
    and its peak RSS (the listener's and its worker processes') kept."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = ledger.free_port()
        self.proc = ledger.manage(
            env, "smtpd", "--host", "127.0.0.1", "--port", str(self.port), log=log
        )
        self.log = log
        ledger.wait_for_port(self.port, self.proc)

    def send(self, raw: bytes, rcpts: tuple[str, ...] = ("support@example.com",)) -> Run:
        """One mail in one session: the time from DATA to its reply."""
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=HANG_GUARD) as client:
            client.ehlo("mta.test")
            client.mail("carla@cliente.com.br")
            for rcpt in rcpts:
                client.rcpt(rcpt)
            started = time.monotonic()
            code, reply = client.docmd("DATA")
            if code == 354:
                client.send(_dot_stuffed(raw) + b".\r\n")
                code, reply = client.getreply()
        seconds = time.monotonic() - started
        return Run(code=code, seconds=seconds, rss_mb=self.peak_rss_mb(), replies=[reply.decode()])

    def peak_rss_mb(self) -> float:
        return max(_peak_rss_mb(p) for p in [self.proc.pid, *ledger.children(self.proc.pid)])

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):  # killed by the guard
            _wait(self.proc, limit=60)


def _dot_stuffed(raw: bytes) -> bytes:
    data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return (b"." + data if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n..")


@contextlib.contextmanager
def listener(env: dict[str, str], tmp: Path) -> Iterator[Listener]:
    server = Listener(env, tmp / f"smtpd-{time.monotonic_ns()}.log")
    try:
        yield server
    finally:
        server.stop()


# The accounting.


def wait_processed(count: int) -> None:
    """Until count mails have rows and none is pending (the listener
    answers 250 after the commit; the processing may come after it)."""
    deadline = time.monotonic() + HANG_GUARD
    rows = InboundMessage.objects
    while rows.count() < count or rows.filter(outcome="pending").exists():
        assert time.monotonic() < deadline, "the listener never processed the mail"
        time.sleep(0.05)


def stored_row(raw: bytes, raw_dir: Path) -> InboundMessage:
    """The one first-delivery row of raw: stored or quarantined, with a
    reason when quarantined, and its raw file holding exactly raw."""
    digest = hashlib.sha256(raw).hexdigest()
    rows = list(InboundMessage.objects.filter(sha256=digest).exclude(outcome="duplicate"))
    assert len(rows) == 1, f"{len(rows)} rows for the mail (dropped or doubled)"
    row = rows[0]
    assert row.outcome in {"created", "replied", "quarantined"}, row.outcome
    if row.outcome == "quarantined":
        assert row.error.strip(), "quarantined without a reason"
    assert row.raw_path, "no raw file named"
    kept = (raw_dir / row.raw_path).read_bytes()
    assert hashlib.sha256(kept).hexdigest() == digest, "the raw file is not the mail"
    return row


def tree_digest(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """Every file and directory under root (but the skipped trees) and the
    sha256 of each file: equal before and after means byte-identical."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or path.is_relative_to(s) for s in skip):
            continue
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def figures_of(run: Run, row: InboundMessage | None = None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": run.code,
        "seconds": round(run.seconds, 2),
        "rss_mb": round(run.rss_mb, 1),
    }
    if row is not None:
        values["outcome"] = row.outcome
        values["reason"] = row.error[:120]
    return {**values, **extra}

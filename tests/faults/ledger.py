"""The accounting every fault suite ends with: each mail's rows, the raw
archive against the rows, the processes it starts, and a mail with an
attachment (whose file is written inside the ingest transaction)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailgateway.models import InboundMessage
from tickets.services import normalize_message_id

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Count:
    tried: int
    stored: int  # mails with exactly one first delivery
    lost: int  # mails with none
    doubled: int  # mails with more than one first delivery (a second ticket entry)
    duplicates: int  # repeats recognised as such (outcome "duplicate")
    rows_without_file: int
    orphan_files: int  # raw files (and unfinished .tmp files) no row names

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


Row = tuple[str, str, str]  # message_id, outcome, raw_path
ROWS_SQL = "SELECT message_id, outcome, raw_path FROM mailgateway_inboundmessage"


def count(message_ids: Iterable[str], raw_dir: Path, rows: list[Row] | None = None) -> Count:
    """Each mail's first deliveries and repeats, and the archive against the
    rows (those of this test's database, or the rows given: ROWS_SQL)."""
    wanted = [normalize_message_id(m) for m in message_ids]
    if rows is None:
        rows = list(InboundMessage.objects.values_list("message_id", "outcome", "raw_path"))
    first = Counter(mid for mid, outcome, _ in rows if outcome != "duplicate")
    named = {path for _, _, path in rows if path}
    files = {str(p.relative_to(raw_dir)) for p in raw_dir.rglob("*") if p.is_file()}
    return Count(
        tried=len(wanted),
        stored=sum(1 for m in wanted if first[m] == 1),
        lost=sum(1 for m in wanted if first[m] == 0),
        doubled=sum(1 for m in wanted if first[m] > 1),
        duplicates=sum(1 for _, outcome, _ in rows if outcome == "duplicate"),
        rows_without_file=len(named - files),
        orphan_files=len(files - named),
    )


def mail_with_attachment(i: int, *, tag: str) -> bytes:
    """A new request from its own sender with a 100 KB attachment, the same
    bytes each time (as an MTA retries)."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Cliente {i} <cliente{i}.{tag}@exemplo.com.br>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Planilha {i}"
    msg["Message-ID"] = f"<{tag}-{i}@exemplo.com.br>"
    msg.set_content("Segue a planilha.\n")
    msg.add_attachment(
        bytes(range(256)) * 400,
        maintype="application",
        subtype="octet-stream",
        filename=f"planilha-{i}.bin",
    )
    return msg.as_bytes().replace(b"\n", b"\r\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manage(
    env: dict[str, str], *args: str, log: Path | None = None, stdin: bytes | None = None
) -> subprocess.Popen[bytes]:
    """manage.py in a child process of its own process group (so a kill can
    take its worker processes too), its output to log, stdin fed from bytes."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if stdin is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin)
        proc.stdin.close()
    return proc


def children(pid: int) -> list[int]:
    """The direct children of pid (the batch path's worker processes)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything in its group, as a power cut would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], *, limit: float = 120) -> None:
    deadline = time.monotonic() + limit  # a hang guard, not a timing assertion
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the listener exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")

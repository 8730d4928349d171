"""Mail arriving through the SMTP, pipe and IMAP doors at once while the
database goes away and comes back (F3): the harness both database variants
share. Every answer is recorded; the test then counts the mails."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults import ledger
from tests.faults.senders import Tally, deliver
from tests.mailgateway.dovecot import Dovecot
from tests.mailgateway.imap_helpers import append, folder_message_ids, mail

SENDERS = 5


@dataclass
class Doors:
    smtp: Tally = field(default_factory=Tally)
    pipe: Counter[int] = field(default_factory=Counter)  # exit code -> times
    imap: Counter[int] = field(default_factory=Counter)
    pipe_done: int = 0
    pipe_mails: int = 0
    expected: list[str] = field(default_factory=list)
    imap_expected: list[str] = field(default_factory=list)
    outages: list[dict[str, float]] = field(default_factory=list)

    def failures(self) -> tuple[int, int, int]:
        return (
            self.smtp.tempfails + self.smtp.lost_replies,
            self.pipe[75],
            sum(n for rc, n in self.imap.items() if rc != 0),
        )


def make_mailbox(env: dict[str, str], server: Dovecot, user: str, password: str) -> None:
    """The Mailbox row, written by a child on the database under test."""
    code = (
        "from mailgateway.mailboxes import Mailbox\n"
        f"box = Mailbox(name={user!r}, host='127.0.0.1', port={server.port}, "
        f"security='none', username={user!r})\n"
        f"box.set_password({password!r})\n"
        "box.save()\n"
    )
    proc = ledger.manage(env, "shell", "-c", code)
    assert proc.wait(timeout=120) == 0


def run(
    env: dict[str, str],
    server: Dovecot,
    tmp_path: Path,
    *,
    smtp_mails: int,
    pipe_mails: int,
    imap_mails: int,
    outages: int,
    begin_outage: Callable[[], None],
    end_outage: Callable[[], None],
) -> Doors:
    doors = Doors(pipe_mails=pipe_mails)
    stop = threading.Event()
    log = tmp_path / "children.log"
    user, password = server.add_user()
    make_mailbox(env, server, user, password)

    port = ledger.free_port()
    listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log)
    ledger.wait_for_port(port, listener)

    smtp = [(mail(i, tag="f3smtp"), f"cliente{i}.f3smtp@exemplo.com.br") for i in range(smtp_mails)]
    pipe = [mail(i, tag="f3pipe") for i in range(pipe_mails)]
    imap = [mail(i, tag=user) for i in range(imap_mails)]
    doors.expected = [f"<f3smtp-{i}@exemplo.com.br>" for i in range(smtp_mails)]
    doors.expected += [f"<f3pipe-{i}@exemplo.com.br>" for i in range(pipe_mails)]
    doors.imap_expected = [f"<{user}-{i}@exemplo.com.br>" for i in range(imap_mails)]

    # Each door delivers its mail in outages + 1 parts; part k starts once
    # outage k has begun, so every door meets every outage with mail in hand.
    begun = [threading.Event() for _ in range(outages + 1)]
    begun[0].set()

    def parts(items: list[Any]) -> Iterator[Any]:
        size = -(-len(items) // (outages + 1))
        for k in range(outages + 1):
            if not begun[k].wait(timeout=600):
                return
            yield from items[k * size : (k + 1) * size]

    def sender(queue: list[tuple[bytes, str]]) -> None:
        for raw, address in parts(queue):
            deliver(port, raw, address, doors.smtp, stop, hang_up=0)

    def piper() -> None:
        for raw in parts(pipe):
            while not stop.is_set():
                proc = ledger.manage(env, "ingest_email", log=log, stdin=raw)
                code = proc.wait(timeout=300)
                doors.pipe[code] += 1
                if code == 0:
                    doors.pipe_done += 1
                    break
                if code != 75:
                    return  # a bounce: the test fails on it
                time.sleep(0.3)  # the MTA's deferred queue

    def deliverer() -> None:
        for raw in parts(imap):
            append(server, user, password, [raw])

    def poller(appending: threading.Thread) -> None:
        while not stop.is_set():
            proc = ledger.manage(env, "poll_imap", "--once", "--mailbox", user, log=log)
            doors.imap[proc.wait(timeout=300)] += 1
            if not appending.is_alive() and not folder_message_ids(server, user, password, "INBOX"):
                return
            time.sleep(0.2)

    appending = threading.Thread(target=deliverer, daemon=True)
    threads = [threading.Thread(target=sender, args=(smtp[s::SENDERS],)) for s in range(SENDERS)]
    threads += [threading.Thread(target=piper), appending]
    threads.append(threading.Thread(target=poller, args=(appending,)))
    for thread in threads:
        thread.start()
    try:
        for k in range(1, outages + 1):
            _wait(lambda: doors.smtp.acked >= 3 and doors.pipe[0] >= 1 and doors.imap[0] >= 1)
            before = doors.failures()
            begin_outage()
            begun[k].set()
            started = time.monotonic()

            # Down until every door has met it at least once.
            def met(b: tuple[int, int, int] = before) -> bool:
                return all(a > c for a, c in zip(doors.failures(), b, strict=True))

            _wait(met)
            down = time.monotonic() - started
            end_outage()
            after = doors.failures()
            doors.outages.append(
                {
                    "seconds": round(down, 1),
                    "smtp_451_or_cut": after[0] - before[0],
                    "pipe_75": after[1] - before[1],
                    "imap_failed_runs": after[2] - before[2],
                }
            )
        for thread in threads:
            thread.join(timeout=900)  # a hang guard
    finally:
        stop.set()
        for event in begun:
            event.set()
        listener.terminate()
        listener.wait(timeout=120)
    return doors


def _wait(condition: Callable[[], bool], limit: float = 180) -> None:
    deadline = time.monotonic() + limit  # a hang guard, not a timing assertion
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def check(doors: Doors, server: Dovecot, count: ledger.Count, imap_user: str) -> dict[str, Any]:
    """Assert what F3 promises; return the figures."""
    password = server.users[imap_user]
    inbox = folder_message_ids(server, imap_user, password, "INBOX")
    processed = folder_message_ids(server, imap_user, password, "Processed")
    figures = {
        **count.as_dict(),
        "smtp_250": doors.smtp.acked,
        "smtp_451": doors.smtp.tempfails,
        "smtp_cut": doors.smtp.lost_replies,
        "smtp_5xx": len(doors.smtp.permanent),
        "pipe_exits": dict(doors.pipe),
        "imap_exits": dict(doors.imap),
        "imap_left_in_inbox": len(inbox),
        "imap_moved": len(processed),
        "outages": doors.outages,
    }
    assert doors.smtp.permanent == [], figures  # never a 5xx
    assert set(doors.pipe) <= {0, 75}, figures  # exit 0 or 75, never a bounce
    assert doors.pipe_done == doors.pipe_mails, figures
    for outage in doors.outages:  # every door met every outage
        met = (outage["smtp_451_or_cut"], outage["pipe_75"], outage["imap_failed_runs"])
        assert min(met) > 0, figures
    assert (count.lost, count.doubled) == (0, 0), figures
    assert count.stored == count.tried, figures
    assert (count.rows_without_file, count.orphan_files) == (0, 0), figures
    assert inbox == [] and processed == sorted(doors.imap_expected), figures
    return figures

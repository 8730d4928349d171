"""F1: `poll_imap` SIGKILLed at random moments while it takes a mailbox of a
real Dovecot, then run to the end.

The kills vary: at a random moment of the run (fetching, staging in the
worker processes, inside the batch's transaction), right after a batch
committed (before its ImapSeen rows and its MOVE), right after a command of
the move reached the server (a proxy between poller and Dovecot kills on the
command: UID MOVE; without MOVE, UID COPY, UID STORE and UID EXPUNGE); the
whole process group (poller and worker processes), the poller alone (its
workers must notice and exit), and a worker first (the poller must restage
its mails and commit) then the poller. When the mailbox runs dry before the
kills are done, more mail arrives. Every mail must end as exactly one ticket entry, moved
to Processed exactly once, INBOX empty; the same on a server without MOVE,
where the poller copies, flags \\Deleted and expunges.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from helpdesk.ops.cleanup import remove_orphans
from mailgateway.mailboxes import ImapSeen
from mailgateway.models import InboundMessage
from tests.faults import ledger
from tests.faults.proxy import KillingProxy
from tests.mailgateway.dovecot import Dovecot
from tests.mailgateway.imap_helpers import append, folder_message_ids, imap, mail, mailbox_for
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

KILLS = ("after-commit", "UID MOVE", "random", "poller-only", "worker-then-poller")
# Without MOVE the move is three commands: killed after each of them.
KILLS_WITHOUT_MOVE = (
    "after-commit",
    "UID COPY",
    "UID STORE",
    "random",
    "UID EXPUNGE",
    "poller-only",
    "worker-then-poller",
)


def _until(proc: Any, done: Any, limit: float = 120) -> bool:
    """Wait until done() or the run ends; False when it ended first."""
    deadline = time.monotonic() + limit  # a hang guard, not a timing assertion
    while not done():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _run_with_kills(
    server: Dovecot,
    child_env: dict[str, str],
    raw_dir: Path,
    tmp_path: Path,
    total: int,
    kills_wanted: int,
    modes: tuple[str, ...],
    refill: int = 100,
    pace: float = 1.0,
) -> dict[str, Any]:
    """Kill poll_imap kills_wanted times, cycling through modes; the mailbox
    starts with total mails and gets refill more whenever fewer remain (a
    small mailbox makes each run, and so each kill, short); pace scales the
    random waits."""
    rng = random.Random(161)
    user, password = server.add_user()
    expected = [f"<{user}-{i}@exemplo.com.br>" for i in range(total)]
    append(server, user, password, [mail(i, tag=user) for i in range(total)])
    box = mailbox_for(server, user, password)
    proxy = KillingProxy(server.port)
    box.port = proxy.port  # the poller talks to Dovecot through the proxy
    box.save(update_fields=["port"])
    log = tmp_path / "poll_imap.log"
    rows = InboundMessage.objects.filter(mailbox=box.name)
    acked = ImapSeen.objects.filter(mailbox=box, acknowledged=True)

    kills: dict[str, int] = dict.fromkeys(modes, 0)
    runs = finished_early = 0
    strays: list[int] = []  # the workers of a poller killed alone
    while sum(kills.values()) < kills_wanted and runs < kills_wanted * 3:
        runs += 1
        mode = modes[sum(kills.values()) % len(modes)]
        if len(expected) - acked.count() < refill:
            # Little left to interrupt: more mail arrives.
            more = range(len(expected), len(expected) + refill)
            append(server, user, password, [mail(i, tag=user) for i in more])
            expected += [f"<{user}-{i}@exemplo.com.br>" for i in more]
        proc = ledger.manage(child_env, "poll_imap", "--once", "--mailbox", box.name, log=log)
        stored = rows.count()
        if mode.startswith("UID "):
            # Killed the moment this command of the move reached the server.
            def kill(_client: Any, p: Any = proc) -> None:
                ledger.kill_group(p)

            proxy.arm(mode.encode(), kill)
            _until(proc, proxy.sprung.is_set)
            proc.wait(timeout=600)
            proxy.disarm()
            if proxy.sprung.is_set():
                kills[mode] += 1
                continue
            hit = False
        elif mode == "random":
            hit = not _until(proc, lambda: False, limit=rng.uniform(0.5, 4.0) * pace)
        elif mode == "after-commit":
            hit = _until(proc, lambda s=stored: rows.count() > s)
        else:  # the poller or one worker, once the workers are at work
            hit = _until(proc, lambda: len(ledger.children(proc.pid)) > 0)
            if mode != "poller-only" or kills[mode] % 2:
                time.sleep(rng.uniform(0, 1.0) * pace)
            # else at once: the workers are still starting (their initializer)
        if hit and proc.poll() is None:
            if mode == "poller-only":
                strays += ledger.children(proc.pid)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            elif mode == "worker-then-poller":
                workers = ledger.children(proc.pid)
                if workers:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                # The poller restages that worker's mails and commits the
                # batch; then it dies too.
                stored = rows.count()
                _until(proc, lambda s=stored: rows.count() > s)
                ledger.kill_group(proc)
            else:
                ledger.kill_group(proc)
            kills[mode] += 1
        else:
            finished_early += 1
            proc.wait(timeout=600)
    # Workers orphaned by a poller-only kill exit on their own (they watch the
    # parent), and so let go of the mailbox's lock they inherited.
    deadline = time.monotonic() + 30  # a hang guard, not a timing assertion
    while (alive := [p for p in strays if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    final = ledger.manage(child_env, "poll_imap", "--once", "--mailbox", box.name, log=log)
    assert final.wait(timeout=600) == 0, log.read_text()[-3000:]
    proxy.close()

    result = ledger.count(expected, raw_dir)
    swept = len(remove_orphans(older_than=0))
    after = ledger.count(expected, raw_dir)
    inbox = folder_message_ids(server, user, password, "INBOX")
    processed = folder_message_ids(server, user, password, "Processed")
    figures = {
        **result.as_dict(),
        "kills": sum(kills.values()),
        **{f"kills_{mode}": n for mode, n in kills.items()},
        "runs_that_finished_first": finished_early,
        "left_in_inbox": len(inbox),
        "moved": len(processed),
        "moved_twice": len(processed) - len(set(processed)),
        "swept": swept,
        "orphaned_workers": len(strays),
        "orphaned_workers_left": len(alive),
    }
    assert alive == [], json.dumps(figures)
    assert (result.lost, result.doubled, result.stored) == (0, 0, len(expected)), json.dumps(
        figures
    )
    assert Ticket.objects.count() == len(expected)
    assert result.rows_without_file == 0
    assert (after.orphan_files, after.rows_without_file) == (0, 0)
    # Each message moved once, nothing left behind.
    assert inbox == [] and processed == sorted(expected), json.dumps(figures)
    assert acked.count() == len(expected)
    assert sum(kills.values()) == kills_wanted, figures
    return figures


def test_a_poller_killed_again_and_again_takes_every_mail_once(
    dovecot: Dovecot,
    child_env: dict[str, str],
    _raw_dir: Path,
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    # Light: 20 kills on a mailbox kept small (each run, so each kill, short).
    figures(
        _run_with_kills(
            dovecot,
            child_env,
            _raw_dir,
            tmp_path,
            scale(30, 1000),
            scale(20, 50),
            KILLS,
            refill=scale(15, 100),
            pace=scale(3, 10) / 10,
        )
    )


def test_the_same_on_a_server_without_move(
    dovecot_without_move: Dovecot,
    child_env: dict[str, str],
    _raw_dir: Path,
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    server = dovecot_without_move
    with imap(server, "user60", server.users["user60"]) as client:
        assert not client.has_capability("MOVE")  # the poller must COPY + EXPUNGE here
    figures(
        _run_with_kills(
            server,
            child_env,
            _raw_dir,
            tmp_path,
            scale(30, 1000),
            scale(20, 50),
            KILLS_WITHOUT_MOVE,
            refill=scale(15, 100),
            pace=scale(3, 10) / 10,
        )
    )

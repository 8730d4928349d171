"""F7: the listener slower than its client's patience. The database holds
the mail's commit (another transaction holds a lock) past the sender's
timeout; the sender hangs up and sends again, like an MTA, until it gets its
250. Each mail must make one ticket: the first delivery commits once the
lock goes, and every repeat is a `duplicate`.

PostgreSQL: another connection locks the inbound table, the listener's
INSERT waits for it. SQLite: another process holds the write lock (BEGIN
EXCLUSIVE), and the listener runs as a default install does (no
DATABASE_URL: its transactions take the write lock at BEGIN and wait up to
30 s for it), on a copy of the test database in its data dir. (Through
DATABASE_URL=sqlite:// the listener's transactions are deferred, and SQLite
answers a deferred writer "database is locked" at once: 451, which F3
covers.)
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from mailgateway.models import InboundMessage
from tests.faults import ledger
from tests.faults.senders import Tally, deliver
from tests.mailgateway.conftest import database_url
from tests.mailgateway.imap_helpers import mail
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@contextlib.contextmanager
def _database_held(sqlite_path: Path | None) -> Iterator[None]:
    """Another connection holds a lock the listener's INSERT waits for until
    the block ends: on PostgreSQL the inbound table's (LOCK TABLE), on SQLite
    the database's write lock (BEGIN EXCLUSIVE)."""
    if sqlite_path is None:
        with psycopg.connect(database_url()) as pg:
            pg.execute("LOCK TABLE mailgateway_inboundmessage IN EXCLUSIVE MODE")
            yield  # the with block commits, which releases the lock
        return
    holder = sqlite3.connect(sqlite_path, timeout=30, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def test_senders_that_give_up_waiting_and_send_again_make_one_ticket_each(
    child_env: dict[str, str], _raw_dir: Path, tmp_path: Path, scale: Any, figures: Any
) -> None:
    mails, give_ups = scale(1, 10), 2
    env, copy = child_env, None
    if connection.vendor == "sqlite":
        # A default install's database: DATA_DIR/db.sqlite3, no DATABASE_URL.
        copy = Path(child_env["HELPDESK_DATA_DIR"]) / "db.sqlite3"
        copy.parent.mkdir(parents=True, exist_ok=True)
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(copy)) as target:
            connection.connection.backup(target)
        env = {k: v for k, v in child_env.items() if k != "DATABASE_URL"}
    port = ledger.free_port()
    log = tmp_path / "smtpd.log"
    listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log)
    tallies, stop = [Tally() for _ in range(mails)], threading.Event()
    try:
        ledger.wait_for_port(port, listener)
        senders = [
            threading.Thread(
                target=deliver,
                args=(port, mail(i, tag="f7"), f"cliente{i}.f7@exemplo.com.br", tally, stop),
                kwargs={"hang_up": 0, "timeout": 1.0},  # an impatient MTA: 1 s for the 250
            )
            for i, tally in enumerate(tallies)
        ]
        with _database_held(copy):
            for sender in senders:
                sender.start()
            deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
            while sum(t.lost_replies for t in tallies) < give_ups * mails:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)  # they gave up on deliveries while the commit waited
        for sender in senders:
            sender.join(timeout=120)
    finally:
        stop.set()
        listener.terminate()
        listener.wait(timeout=60)
    rows: list[ledger.Row] | None = None
    tickets = Ticket.objects.count()
    if copy is not None:
        with contextlib.closing(sqlite3.connect(copy)) as db:
            rows = [tuple(r) for r in db.execute(ledger.ROWS_SQL).fetchall()]  # type: ignore[misc]
            tickets = db.execute("SELECT COUNT(*) FROM tickets_ticket").fetchone()[0]
    count = ledger.count([f"<f7-{i}@exemplo.com.br>" for i in range(mails)], _raw_dir, rows)
    outcomes = (
        [r[1] for r in rows]
        if rows is not None
        else list(InboundMessage.objects.values_list("outcome", flat=True))
    )
    gave_up = sum(t.lost_replies for t in tallies)
    figures(
        {
            **count.as_dict(),
            "gave_up": gave_up,
            "tempfails": sum(t.tempfails for t in tallies),
            "attempts": sum(t.attempts for t in tallies),
        }
    )
    assert [t.acked for t in tallies] == [1] * mails, log.read_text()[-3000:]
    assert all(not t.permanent for t in tallies)
    assert gave_up >= give_ups * mails, log.read_text()[-3000:]
    assert (count.stored, count.doubled, count.rows_without_file) == (mails, 0, 0)
    assert tickets == mails
    assert outcomes.count("created") == mails and count.duplicates >= 1

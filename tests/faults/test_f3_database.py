"""F3: the database goes away in the middle of SMTP, pipe and IMAP deliveries.

PostgreSQL: a private cluster (never the machine's own) stopped with
`pg_ctl stop -m immediate` while the three doors deliver, kept down until
each door has met it, then started again. SQLite: another process holds the
write lock (BEGIN EXCLUSIVE) past the busy timeout; or the database file
becomes unwritable (immutable on a loop-mounted ext4). Meanwhile the answers
must be 451 / exit 75 / mail left on the IMAP server, never 250 or exit 0
for a mail that is not stored and never a 5xx or another exit code (a
bounce); afterwards every mail exists exactly once, with no orphan raw file
and no row without its raw file (no process was killed: a rolled-back mail
leaves no file behind).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import in_ci
from tests.faults import disks, ledger, outage
from tests.faults.pgcluster import Cluster, binaries
from tests.faults.proxy import KillingProxy
from tests.faults.senders import Tally, deliver
from tests.mailgateway.dovecot import Dovecot
from tests.mailgateway.imap_helpers import mail
from tests.proof import is_heavy

# A repeat of a stored mail: its door answered "retry" (or nothing) after storing it.
REPEATS_SQL = (
    "SELECT door, COUNT(*) FROM mailgateway_inboundmessage"
    " WHERE outcome = 'duplicate' GROUP BY door"
)


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """A private cluster with a migrated template database."""
    if connection.vendor != "postgresql" and not is_heavy(request.config):
        pytest.skip("runs in the PostgreSQL pass of the suite (and with --heavy)")
    if binaries() is None:
        # As tests/programs.py's programs: named with its package, and no skip under CI.
        message = (
            "missing program pg_ctl: the PostgreSQL server binaries (/usr/lib/postgresql/*/bin) "
            "are not installed. Debian: apt-get install postgresql"
        )
        if in_ci():
            pytest.fail(f"{message} [CI is set: no skipping]", pytrace=False)
        pytest.skip(message)
    pg = Cluster()
    pg.start()
    try:
        pg.create_database("hd_template")
        env = _env(pg.url("hd_template"), tmp_path_factory.mktemp("migrate"), "unused")
        migrate = ledger.manage(env, "migrate", "-v", "0")
        assert migrate.wait(timeout=600) == 0
        yield pg
    finally:
        pg.remove()


def _env(database_url: str, data_dir: Path, raw_dir: Path | str) -> dict[str, str]:
    from django.conf import settings

    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_RAW_DIR": str(raw_dir),
        "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }


def _deliver_through_outages(
    env: dict[str, str],
    server: Dovecot,
    tmp_path: Path,
    scale: Any,
    begin: Callable[[], None],
    end: Callable[[], None],
) -> outage.Doors:
    """The three doors at once, at this run's size, through this outage."""
    return outage.run(
        env,
        server,
        tmp_path,
        smtp_mails=scale(20, 400),
        pipe_mails=scale(4, 40),
        imap_mails=scale(20, 400),
        outages=scale(1, 3),
        begin_outage=begin,
        end_outage=end,
    )


def _account(
    doors: outage.Doors,
    server: Dovecot,
    raw_dir: Path,
    rows: list[ledger.Row] | None,
    repeats: dict[str, int],
) -> dict[str, Any]:
    count = ledger.count(doors.expected + doors.imap_expected, raw_dir, rows)
    checked = outage.check(doors, server, count, f"user{server._count}")
    return {**checked, "duplicates_by_door": repeats}


@pytest.mark.slow
def test_postgresql_stopped_hard_mid_delivery(
    cluster: Cluster, dovecot: Dovecot, tmp_path: Path, scale: Any, figures: Any
) -> None:
    name = f"f3_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name, template="hd_template")
    raw_dir = tmp_path / "raw"
    env = _env(cluster.url(name), tmp_path / "child-data", raw_dir)
    doors = _deliver_through_outages(env, dovecot, tmp_path, scale, cluster.crash, cluster.start)
    with cluster.connect(name) as conn:
        rows = [tuple(r) for r in conn.execute(ledger.ROWS_SQL).fetchall()]
        repeats: dict[str, int] = dict(conn.execute(REPEATS_SQL).fetchall())
    figures(_account(doors, dovecot, raw_dir, rows, repeats))  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sqlite_locked_by_another_process_mid_delivery(
    child_env: dict[str, str],
    _raw_dir: Path,
    dovecot: Dovecot,
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("runs in the SQLite pass of the suite")
    path = connection.settings_dict["NAME"]
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        # Another process's writer holding the lock (BEGIN EXCLUSIVE) past every
        # busy timeout: a long backup, a stuck admin shell.
        conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    def unlock() -> None:
        conn = holder.pop()
        conn.execute("ROLLBACK")
        conn.close()

    doors = _deliver_through_outages(child_env, dovecot, tmp_path, scale, lock, unlock)
    with connection.cursor() as cursor:
        cursor.execute(REPEATS_SQL)
        repeats = dict(cursor.fetchall())
    figures(_account(doors, dovecot, _raw_dir, None, repeats))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sqlite_made_unwritable_mid_delivery(
    child_env: dict[str, str],
    _raw_dir: Path,
    dovecot: Dovecot,
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    """The database file and its WAL become unwritable under the running
    doors, as when the file system turns read-only: `chattr +i` on a
    loop-mounted ext4 (root writes through permissions, and a tmpfs cannot be
    remounted read-only while files are open for writing). Processes that had
    it open get "disk I/O error", new ones open it read-only ("attempt to
    write a readonly database"). Then writable again, live."""
    if connection.vendor != "sqlite":
        pytest.skip("runs in the SQLite pass of the suite")
    with disks.loop_ext4(tmp_path / "ext4") as disk:
        path = disk / "db.sqlite3"
        # A copy of the migrated test database on the disk that will fail.
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(path)) as copy:
            connection.connection.backup(copy)
            copy.execute("PRAGMA journal_mode=WAL")  # as a default install runs it
        env = {**child_env, "DATABASE_URL": f"sqlite:///{path}"}
        wal = disk / "db.sqlite3-wal"

        def unwritable() -> None:
            disks.set_immutable([path, *([wal] if wal.exists() else [])], on=True)

        def writable() -> None:
            disks.set_immutable([path, *([wal] if wal.exists() else [])], on=False)

        doors = _deliver_through_outages(env, dovecot, tmp_path, scale, unwritable, writable)
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = [tuple(r) for r in db.execute(ledger.ROWS_SQL).fetchall()]
            repeats = dict(db.execute(REPEATS_SQL).fetchall())
    figures(_account(doors, dovecot, _raw_dir, rows, repeats))  # type: ignore[arg-type]


# psycopg sends COMMIT as a simple query: 'Q', its length, the text, a NUL.
COMMIT = re.compile(re.escape(b"Q\x00\x00\x00\x0bCOMMIT\x00"))


def _cut(client: socket.socket) -> None:
    """The COMMIT has gone to the server; its answer never comes back."""
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_RDWR)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_commit_whose_answer_is_lost_keeps_the_raw_file_of_its_rows(
    child_env: dict[str, str], _raw_dir: Path, tmp_path: Path, figures: Any
) -> None:
    """The connection drops after COMMIT reached PostgreSQL: the rows may be
    committed, so their raw files must stay (an orphan costs the sweeper a
    file; a deleted file costs a stored mail its bytes). The SMTP listener
    and the pipe, each through a proxy that cuts it off after its COMMIT."""
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass of the suite")
    db = connection.settings_dict
    proxy = KillingProxy(int(db["PORT"] or 5432))
    env = {
        **child_env,
        "DATABASE_URL": child_env["DATABASE_URL"].replace(
            f":{db['PORT'] or 5432}/", f":{proxy.port}/"
        ),
    }
    assert f":{proxy.port}/" in env["DATABASE_URL"]
    log = tmp_path / "children.log"
    port = ledger.free_port()
    listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log)
    tally, stop = Tally(), threading.Event()
    try:
        ledger.wait_for_port(port, listener)
        deliver(port, mail(0, tag="f3cut"), "cliente0.f3cut@exemplo.com.br", tally, stop, 0)
        proxy.arm(COMMIT, _cut)
        deliver(port, mail(1, tag="f3cut"), "cliente1.f3cut@exemplo.com.br", tally, stop, 0)
        smtp_cut = proxy.sprung.is_set()
        proxy.arm(COMMIT, _cut)
        exits: list[int] = []
        while not exits or exits[-1] == 75:
            piped = ledger.manage(env, "ingest_email", log=log, stdin=mail(2, tag="f3cut"))
            exits.append(piped.wait(timeout=120))
        pipe_cut = proxy.sprung.is_set()
    finally:
        listener.terminate()
        listener.wait(timeout=60)
        proxy.close()
    count = ledger.count([f"<f3cut-{i}@exemplo.com.br>" for i in range(3)], _raw_dir)
    figures({**count.as_dict(), "smtp": tally.acked, "pipe_exits": exits})
    assert (smtp_cut, pipe_cut) == (True, True), log.read_text()[-3000:]
    assert tally.permanent == [] and exits[-1] == 0 and set(exits) <= {0, 75}
    assert (count.lost, count.doubled, count.stored) == (0, 0, 3)
    assert count.rows_without_file == 0, log.read_text()[-3000:]

"""F7: the listener slower than its client's patience. The database holds
the mail's commit (another transaction locks the table) past the sender's
timeout; the sender hangs up and sends again, like an MTA, until it gets its
250. The mail must make one ticket: the first delivery commits once the lock
goes, and every repeat is a `duplicate`. PostgreSQL only: SQLite answers
451 at once when locked (F3), it never makes the sender wait."""

from __future__ import annotations

import contextlib
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
def _table_locked() -> Iterator[None]:
    """Another connection holds the inbound table's write lock until the
    block ends: the listener's INSERT waits for it."""
    with psycopg.connect(database_url()) as pg:
        pg.execute("LOCK TABLE mailgateway_inboundmessage IN EXCLUSIVE MODE")
        yield  # the with block commits, which releases the lock


def test_a_sender_that_gives_up_waiting_and_sends_again_makes_one_ticket(
    child_env: dict[str, str], _raw_dir: Path, tmp_path: Path, figures: Any
) -> None:
    if connection.vendor != "postgresql":
        # SQLite does not wait for a lock held this way: the listener answers
        # 451 at once (F3), and the sender simply retries.
        pytest.skip("runs in the PostgreSQL pass of the suite")
    port = ledger.free_port()
    log = tmp_path / "smtpd.log"
    listener = ledger.manage(
        child_env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log
    )
    tally, stop = Tally(), threading.Event()
    try:
        ledger.wait_for_port(port, listener)
        sender = threading.Thread(
            target=deliver,
            args=(port, mail(0, tag="f7"), "cliente0.f7@exemplo.com.br", tally, stop),
            kwargs={"hang_up": 0, "timeout": 1.0},  # an impatient MTA: 1 s for the 250
        )
        with _table_locked():
            sender.start()
            deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
            while tally.lost_replies < 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # it gave up on two deliveries while the commit waited
        sender.join(timeout=120)
    finally:
        stop.set()
        listener.terminate()
        listener.wait(timeout=60)
    count = ledger.count(["<f7-0@exemplo.com.br>"], _raw_dir)
    outcomes = sorted(InboundMessage.objects.values_list("outcome", flat=True))
    figures({**count.as_dict(), "gave_up": tally.lost_replies, "attempts": tally.attempts})
    assert tally.acked == 1 and tally.lost_replies >= 2, log.read_text()[-3000:]
    assert (count.stored, count.doubled, count.rows_without_file) == (1, 0, 0)
    assert Ticket.objects.count() == 1
    assert outcomes.count("created") == 1 and count.duplicates >= 1

"""F2: the SMTP listener SIGKILLed and restarted under 20 senders that retry
like an MTA until they see 250.

A mail whose client saw 250 must exist exactly once; a mail whose 250 was
lost in the kill and that the client sent again must come back as a
`duplicate`, never a second ticket entry; every reply is 250, 4xx or a
dropped connection, never a 5xx. The raw archive is then checked against
the rows: no row without its file; the files a kill left without a row
(written, the commit never came) are bounded by the mails in flight at the
kills and are what the orphan sweeper removes.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpdesk.ops.cleanup import remove_orphans
from mailgateway.models import InboundMessage
from tests.faults import ledger
from tests.faults.senders import Tally, deliver, percentile
from tests.mailgateway.imap_helpers import mail
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SENDERS = 20


def test_every_acknowledged_mail_exists_once_across_listener_kills(
    child_env: dict[str, str], _raw_dir: Path, tmp_path: Path, scale: Any, figures: Any
) -> None:
    total, kills_wanted = scale(200, 1000), scale(4, 10)
    rng = random.Random(16)
    port = ledger.free_port()
    log = tmp_path / "smtpd.log"
    mails = [(mail(i, tag="f2"), f"cliente{i}.f2@exemplo.com.br") for i in range(total)]
    queues = [mails[s::SENDERS] for s in range(SENDERS)]
    tally, stop = Tally(), threading.Event()

    def start() -> Any:
        proc = ledger.manage(
            child_env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log
        )
        ledger.wait_for_port(port, proc)
        return proc

    def sender(queue: list[tuple[bytes, str]]) -> None:
        for raw, address in queue:
            deliver(port, raw, address, tally, stop)

    listener = start()
    threads = [threading.Thread(target=sender, args=(q,), daemon=True) for q in queues]
    for thread in threads:
        thread.start()
    kills = 0
    try:
        while kills < kills_wanted and any(t.is_alive() for t in threads):
            # Let some mail through, then kill at a random moment of the traffic:
            # mid-DATA, while staging, inside the committer's transaction, or
            # between its commit and the 250s.
            seen, deadline = tally.acked, time.monotonic() + 60
            while tally.acked < seen + rng.randint(1, total // (kills_wanted + 1)):
                if time.monotonic() > deadline or not any(t.is_alive() for t in threads):
                    break
                time.sleep(0.005)
            if kills % 2:
                # Every other kill right after a commit shows in the database:
                # before the committer wrote its 250s, so senders retry mails
                # that are already stored.
                rows = InboundMessage.objects.count()
                while InboundMessage.objects.count() == rows and time.monotonic() < deadline:
                    pass
            else:
                time.sleep(rng.uniform(0, 0.05))
            ledger.kill_group(listener)
            kills += 1
            time.sleep(rng.uniform(0, 0.3))  # senders meet a closed port meanwhile
            listener = start()
        for thread in threads:
            thread.join(timeout=600)  # a hang guard
        stop.set()
    finally:
        stop.set()
        ledger.kill_group(listener)

    result = ledger.count([f"<f2-{i}@exemplo.com.br>" for i in range(total)], _raw_dir)
    swept = len(remove_orphans(older_than=0))
    after = ledger.count([f"<f2-{i}@exemplo.com.br>" for i in range(total)], _raw_dir)
    figures(
        {
            **result.as_dict(),
            "senders": SENDERS,
            "kills": kills,
            "acked": tally.acked,
            "attempts": tally.attempts,
            "lost_replies": tally.lost_replies,
            "hung_up": tally.hung_up,
            "tempfails": tally.tempfails,
            "refused": tally.refused,
            "p50_ms": round(percentile(tally.latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
            "swept": swept,
        }
    )
    assert tally.permanent == [], "a 5xx bounces the mail"
    assert kills == kills_wanted
    assert tally.acked == total  # every sender got its 250 in the end
    assert (result.lost, result.doubled, result.stored) == (0, 0, total)
    assert Ticket.objects.count() == total
    # A repeat exists only where a reply was lost (or a 4xx came after the commit).
    assert result.duplicates <= tally.lost_replies + tally.hung_up + tally.tempfails
    # ... and those repeats are recognised (most hang-ups happen between kills).
    assert tally.hung_up == 0 or result.duplicates > 0
    assert result.rows_without_file == 0
    # At most one mail in flight per sender when the listener died.
    assert result.orphan_files <= kills * SENDERS
    assert (after.orphan_files, after.rows_without_file, after.stored) == (0, 0, total)

"""F2, the pipe door: `manage.py ingest_email` (one process per mail, the
mail on stdin, as Postfix's pipe(8) runs it) SIGKILLed in the middle of
deliveries, and the MTA retrying every exit that is not 0 as its deferred
queue does, with the same bytes.

The kills cycle through the steps where a crash splits the work:

- **raw-file-written**: the instant the mail's raw file is in the archive,
  before its row is committed (the file is an orphan);
- **stored-not-processed**: the instant its row is committed, before the
  processing (the row stays `pending`; the retry finds it and finishes it);
- **in-transaction**: the instant the attachment's file is written, which
  happens inside the processing transaction (rolled back: the row stays
  pending, the attachment file is an orphan);
- **random**: at a random moment of the run (starting, parsing, storing).

Some retries are killed again (a retry that finishes a pending row runs the
same steps). Every mail must end as exactly one ticket entry with its one
attachment; the pipe never exits with anything but 0 or 75 (a bounce) when it
is not killed; no row lacks its raw file; the orphans the kills left are what
the sweeper removes.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpdesk.ops.cleanup import remove_orphans
from mailgateway.models import InboundMessage
from tests.faults import ledger
from tickets.models import Attachment, Ticket
from tickets.services import normalize_message_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MODES = ("stored-not-processed", "raw-file-written", "in-transaction", "random")


def _files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def _wait_for(proc: Any, done: Any) -> bool:
    """Poll until done() or the process ends; True when done() came first."""
    deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
    while time.monotonic() < deadline:
        if done():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.0005)
    return False


def test_a_pipe_killed_mid_delivery_and_retried_makes_each_mail_once(
    child_env: dict[str, str],
    _raw_dir: Path,
    tmp_path: Path,
    settings: Any,
    scale: Any,
    figures: Any,
) -> None:
    total, second_kills = scale(6, 60), scale(4, 40)
    rng = random.Random(1616)
    media = Path(child_env["HELPDESK_DATA_DIR"]) / "media"
    log = tmp_path / "ingest_email.log"
    expected = [f"<f2pipe-{i}@exemplo.com.br>" for i in range(total)]
    # Which mails have their retry killed too (while it finishes the pending row).
    twice = set(rng.sample(range(total), second_kills))
    kills: Counter[str] = Counter()
    hit: Counter[str] = Counter()  # what the kill left behind
    exits: Counter[int] = Counter()
    runs, durations = 0, [0.05]

    for i in range(total):
        raw = ledger.mail_with_attachment(i, tag="f2pipe")
        rows = InboundMessage.objects.filter(message_id=normalize_message_id(expected[i]))
        planned = [MODES[i % len(MODES)]]
        if i in twice:
            planned.append(rng.choice(("stored-not-processed", "in-transaction", "random")))
        while True:
            mode = planned.pop(0) if planned else None
            raw_files, media_files, row_count = _files(_raw_dir), _files(media), rows.count()
            proc = ledger.manage(child_env, "ingest_email", log=log, stdin=raw)
            started = time.monotonic()  # it has read its stdin: the delivery begins
            runs += 1
            if mode is None:
                code = proc.wait(timeout=300)
                durations.append(time.monotonic() - started)
                exits[code] += 1
                assert code in (0, 75), log.read_text()[-3000:]  # never a bounce
                if code == 0:
                    break
                time.sleep(0.1)  # the deferred queue
                continue
            if mode == "raw-file-written":
                caught = _wait_for(proc, lambda n=raw_files: _files(_raw_dir) > n)
            elif mode == "stored-not-processed":
                caught = _wait_for(proc, lambda n=row_count: rows.count() > n)
            elif mode == "in-transaction":
                caught = _wait_for(proc, lambda n=media_files: _files(media) > n)
            else:
                typical = sorted(durations)[len(durations) // 2]
                end = time.monotonic() + rng.uniform(0.0, 0.5) * typical
                caught = not _wait_for(proc, lambda e=end: time.monotonic() > e)
            if caught is False and proc.poll() is not None:
                # It finished before the step was reached: not a kill.
                code = proc.wait()
                exits[code] += 1
                hit[f"{mode}: missed, exit {code}"] += 1
                if code == 0:
                    break
                continue
            ledger.kill_group(proc)
            kills[mode] += 1
            pending = rows.filter(outcome=InboundMessage.Outcome.PENDING).exists()
            if (
                rows.exclude(outcome=InboundMessage.Outcome.PENDING)
                .filter(duplicate_of__isnull=True)
                .exists()
            ):
                left = "processed"
            elif pending:
                left = "row pending" + (
                    ", attachment orphaned" if _files(media) > media_files else ""
                )
            elif _files(_raw_dir) > raw_files:
                left = "raw file, no row"
            else:
                left = "nothing"
            hit[f"{mode}: {left}"] += 1
            time.sleep(0.1)  # the deferred queue

    result = ledger.count(expected, _raw_dir)
    settings.MEDIA_ROOT = media  # the children's attachments: the sweeper looks there
    swept = remove_orphans(older_than=0)
    after = ledger.count(expected, _raw_dir)
    attachments = list(Attachment.objects.values_list("file", flat=True))
    on_disk = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    found = {
        **result.as_dict(),
        "kills": sum(kills.values()),
        **{f"kills_{mode}": n for mode, n in sorted(kills.items())},
        "left_by_kills": dict(sorted(hit.items())),
        "runs": runs,
        "exits_unkilled": dict(exits),
        "swept_raw": sum(1 for p in swept if p.startswith(str(_raw_dir))),
        "swept_attachments": sum(1 for p in swept if p.startswith(str(media))),
        "pending_left": InboundMessage.objects.filter(outcome="pending").count(),
    }
    figures(found)
    report = json.dumps(found)
    assert (result.lost, result.doubled, result.stored) == (0, 0, total), report
    assert Ticket.objects.count() == total, report
    assert len(attachments) == total and sorted(attachments) == on_disk, report
    assert result.rows_without_file == 0, report
    assert (after.orphan_files, after.rows_without_file, after.stored) == (0, 0, total), report
    assert found["pending_left"] == 0, report
    # The dangerous steps were reached, not just the random moments.
    assert any(k.startswith("stored-not-processed: row pending") for k in hit), report
    assert any(k.startswith("in-transaction: row pending, attachment") for k in hit), report

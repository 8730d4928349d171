"""F4: the raw archive's disk fills up (a small tmpfs) while mail arrives by
SMTP and by the pipe. Meanwhile: 451 / exit 75, never a 250 or 0 for a mail
that is not stored, never a 5xx or a bounce; /healthz answers 503 and names
the full disk. Space comes back and the doors take the retries by themselves
(no restart): each mail once, no half-written file left, no row without its
file."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpdesk.ops.cleanup import remove_orphans
from tests.faults import disks, ledger
from tests.faults.senders import Tally, deliver
from tests.mailgateway.imap_helpers import mail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_full_raw_archive_answers_retry_then_recovers_by_itself(
    child_env: dict[str, str],
    tmp_path: Path,
    settings: Any,
    client: Any,
    scale: Any,
    figures: Any,
) -> None:
    senders_per_cycle, cycles = scale(5, 20), scale(1, 3)
    tally, stop, pipe_exits = Tally(), threading.Event(), Counter[int]()
    full: list[tuple[int, dict[str, Any]]] = []  # /healthz while full, each cycle
    healthy: list[dict[str, Any]] = []  # ... and once space came back
    ids: list[str] = []
    with disks.small_tmpfs(tmp_path / "small", "4m") as disk:
        raw_dir = disk / "raw"
        raw_dir.mkdir()
        settings.HELPDESK_RAW_DIR = raw_dir  # this process's /healthz looks there
        settings.HELPDESK_DISK_MIN_FREE_MB = 1
        env = {**child_env, "HELPDESK_RAW_DIR": str(raw_dir)}
        log = tmp_path / "children.log"
        port = ledger.free_port()
        listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log)
        try:
            ledger.wait_for_port(port, listener)
            for _ in range(cycles):  # fill, deliver, free; again
                filler = disks.fill(disk)
                first, before = len(ids), tally.tempfails
                ids += [f"<f4-{first + i}@exemplo.com.br>" for i in range(senders_per_cycle + 1)]
                senders = [
                    threading.Thread(
                        target=deliver,
                        args=(port, mail(i, tag="f4"), f"cliente{i}.f4@exemplo.com.br", tally),
                        kwargs={"stop": stop, "hang_up": 0},
                    )
                    for i in range(first, first + senders_per_cycle)
                ]
                for sender in senders:
                    sender.start()
                piped = mail(first + senders_per_cycle, tag="f4")
                pipe_exits[ledger.manage(env, "ingest_email", log=log, stdin=piped).wait(120)] += 1
                deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
                while tally.tempfails < before + senders_per_cycle:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                health = client.get("/healthz")
                full.append((health.status_code, health.json()))

                filler.unlink()  # space comes back; nothing is restarted
                for sender in senders:
                    sender.join(timeout=120)
                while True:
                    code = ledger.manage(env, "ingest_email", log=log, stdin=piped).wait(120)
                    pipe_exits[code] += 1
                    if code != 75:
                        break
                healthy.append(client.get("/healthz").json())
        finally:
            stop.set()
            listener.terminate()
            listener.wait(timeout=60)
        count = ledger.count(ids, raw_dir)
        leftovers = [p.name for p in raw_dir.rglob("*.tmp")]

    figures(
        {
            **count.as_dict(),
            "senders": senders_per_cycle,
            "fill_free_cycles": cycles,
            "smtp_451": tally.tempfails,
            "smtp_250": tally.acked,
            "pipe_exits": dict(pipe_exits),
            "healthz_while_full": [code for code, _ in full],
        }
    )
    assert tally.permanent == [] and set(pipe_exits) == {0, 75}
    assert pipe_exits[0] == cycles
    assert tally.tempfails >= senders_per_cycle * cycles  # each sender met the full disk
    for code, answer in full:
        assert code == 503
        assert answer["checks"]["disk"]["ok"] is False
        assert answer["checks"]["disk"]["free_mb"]["raw"] == 0
    assert all(answer["checks"]["disk"]["ok"] is True for answer in healthy)
    assert tally.acked == senders_per_cycle * cycles
    assert (count.lost, count.doubled, count.stored) == (0, 0, len(ids))
    assert (count.rows_without_file, count.orphan_files, leftovers) == (0, 0, [])


def test_a_full_attachment_disk_answers_retry_then_recovers_by_itself(
    child_env: dict[str, str], _raw_dir: Path, tmp_path: Path, settings: Any, figures: Any
) -> None:
    """The attachments' disk (MEDIA_ROOT, under the data dir) is full, the raw
    archive is not: the mail must not become a ticket without its file."""
    from tickets.models import Attachment, Ticket

    with disks.small_tmpfs(tmp_path / "small", "4m") as disk:
        env = {**child_env, "HELPDESK_DATA_DIR": str(disk / "data")}
        (disk / "data" / "media").mkdir(parents=True)
        log = tmp_path / "children.log"
        filler = disks.fill(disk)
        exits = Counter[int]()
        raw = ledger.mail_with_attachment(
            0, tag="f4a"
        )  # the same bytes each time, as an MTA retries
        try:
            for _ in range(2):
                piped = ledger.manage(env, "ingest_email", log=log, stdin=raw)
                exits[piped.wait(timeout=120)] += 1
            tickets_while_full = Ticket.objects.count()
            filler.unlink()
            while not exits[0]:
                piped = ledger.manage(env, "ingest_email", log=log, stdin=raw)
                exits[piped.wait(timeout=120)] += 1
            media = disk / "data" / "media"
            written = [p.name for p in media.rglob("*") if p.is_file()]
            # A write that ran out of room leaves a short file no row names:
            # the orphan sweeper's to remove, as after a crash.
            settings.MEDIA_ROOT = media
            swept = len(remove_orphans(older_than=0))
            files = [str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()]
        except BaseException:
            print(log.read_text()[-3000:])
            raise
    count = ledger.count(["<f4a-0@exemplo.com.br>"], _raw_dir)
    figures(
        {
            **count.as_dict(),
            "pipe_exits": dict(exits),
            "tickets_while_full": tickets_while_full,
            "attachment_files_written": len(written),
            "short_files_swept": swept,
        }
    )
    assert set(exits) == {0, 75}, log.read_text()[-3000:]
    assert tickets_while_full == 0
    assert (count.lost, count.doubled, count.stored, count.rows_without_file) == (0, 0, 1, 0)
    assert Ticket.objects.count() == 1 and Attachment.objects.count() == 1
    assert files == list(Attachment.objects.values_list("file", flat=True))

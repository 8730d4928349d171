"""Many mails, one commit per batch: the path of `ingest_email FILE...`.

ingest_raw_email pays two commits (two WAL fsyncs) and reads the sender's
account, their mail rate and the notification rules once per mail. A stream
of mails keeps the same durability rules at a fraction of that cost:

1. worker processes (the other cores, at a lower priority than the writer)
   write and fsync each raw file, compute its dedupe key, prepare it (parse,
   texts, sanitised HTML) and save its attachments, a batch or two ahead of
   the one being written;
2. ONE transaction per batch then processes every mail in its own savepoint,
   so a mail that fails is quarantined (raw kept) without undoing the others;
   the senders' accounts and rates are read once for the batch, the ticket
   changes are announced to the subscribers together at its end (one outbox
   INSERT, one for the audit rows, one for the Message-ID map), and the
   batch's InboundMessage rows are inserted in one statement; attachment
   files no committed row names are deleted;
3. only after that commit are the batch's outcomes yielded, so no mail is
   acknowledged before its row is durable.

Anything unusual falls back to ingest_raw_email one mail at a time, which
owns the slow paths: a duplicate (its dedupe key is taken), a raw file that
cannot be written, and a database error, which rolls the whole batch back
(rows and files) before the per-mail path retries every mail of it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction

from mailgateway import store
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import (
    IngestResult,
    Senders,
    _pipeline,
    after_quarantine,
    ingest_raw_email,
    is_transient,
    log_ingested,
    max_message_bytes,
    quarantine_fields,
    row_fields,
    surely_not_committed,
)
from mailgateway.models import InboundMessage
from mailgateway.prepare import Prepared, prepare
from tickets import events, services

log = logging.getLogger("mailgateway")

BATCH = 50
AHEAD = 2  # batches being prepared while one is written

IngestOutcome = IngestResult | InboundError | InboundRejected


@dataclass(frozen=True)
class Staged:
    """A mail on disk, with its row's key and columns and its prepared form."""

    raw_path: str  # "" when the file could not be written
    key: str
    columns: dict[str, Any]
    prepared: Prepared | None  # None when preparing failed: the pipeline retries and quarantines


# A mail: its bytes, or the path of a file holding them (read by the worker,
# so the bytes never pass through the main process).
Source = bytes | Path


def _read(source: Source) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def stage(
    source: Source, root: Path, envelope: dict[str, Any], saves_files: bool = False
) -> Staged:
    """Everything before the database, for one mail. Its directory entry is
    synced once for the whole batch (store.sync_dirs). In a worker
    (saves_files) the attachments are saved here too, so their bytes do not
    travel to the writer; write() discards what no committed row names."""
    try:
        raw = _read(source)
        relative = store.write_raw(raw, root, sync_dir=False)
    except OSError:
        return Staged("", "", {}, None)  # the per-mail path retries, and reports the error
    key, columns = row_fields(raw, **envelope)
    try:
        prepared = prepare(raw).portable()
    except Exception:
        return Staged(relative, key, columns, None)
    if saves_files:
        with contextlib.suppress(OSError):  # then the writer saves them, as per mail
            prepared = prepared.with_files_saved()
    return Staged(relative, key, columns, prepared)


_pool: ProcessPoolExecutor | None = None


WORKER_NICE = 5


def _worker_init(parent: int) -> None:
    """Worker initializer. Workers yield the CPU to the writer: it is the
    serial path, they only need to keep a batch or two ahead of it (on two
    cores that took the machine from 1.7 to 1.85 cores busy). The objects
    inherited from the parent (Django, the app registry) live as long as the
    worker: the cyclic GC need not scan them again and again. And exit when
    the parent is gone (killed with SIGKILL, it cannot stop us), instead of
    living on holding its pipes open -- and the poller's mailbox lock, whose
    open file it inherited.

    parent is the pid of the process that made the pool, not os.getppid()
    here: a parent killed between the fork and this initializer has already
    left us to init, and watching init would keep us (and the lock) forever.
    Found by the F1 fault suite: a poller SIGKILLed as its workers started
    left one that held the mailbox's lock, and no later run polled it."""
    if os.getppid() != parent:
        os._exit(1)
    os.nice(WORKER_NICE)
    gc.freeze()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-guard", daemon=True).start()


def _workers() -> ProcessPoolExecutor | None:
    """The worker processes, or None to stage mails in this process: on one
    core, and in a process running other threads (poll_imap --idle), where a
    fork could copy a lock another thread holds."""
    global _pool
    cores = os.cpu_count() or 1
    if cores < 2 or (_pool is None and threading.active_count() > 1):
        return None
    if _pool is None:
        # fork: the workers need only modules this process has imported.
        _pool = ProcessPoolExecutor(
            max_workers=min(cores, 4),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


Pending = Future[Staged] | Staged | InboundRejected


def _submit(chunk: Sequence[Source], envelope: dict[str, Any]) -> list[Pending]:
    pool, root, limit = _workers(), store.raw_root(), max_message_bytes()
    out: list[Pending] = []
    for raw in chunk:
        try:
            too_big = _size(raw) > limit
        except OSError:
            too_big = False  # unreadable: the per-mail path reports it
        if too_big:
            out.append(
                InboundRejected(
                    "message too large", smtp_code="552 5.3.4 Message too big", exit_code=65
                )
            )
        elif pool is not None:
            try:
                out.append(pool.submit(stage, raw, root, envelope, True))
            except BrokenProcessPool:  # a worker was killed (OOM?): start afresh
                _drop_workers()
                pool = _workers()
                out.append(stage(raw, root, envelope))
        else:
            out.append(stage(raw, root, envelope))
    return out


def start_workers() -> bool:
    """Fork the worker processes now, while this process runs one thread: a
    long-running process that starts threads afterwards (the SMTP listener)
    calls this first. False when there are none (one core, or too late)."""
    pool = _workers()
    if pool is None:
        return False
    # With fork, the first submit starts every worker, before the pool's own thread.
    pool.submit(os.getpid).result()
    return True


def _drop_workers() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def _staged(pending: Pending, raw: Source, envelope: dict[str, Any]) -> Staged | InboundRejected:
    if not isinstance(pending, Future):
        return pending
    try:
        return pending.result()
    except BrokenProcessPool:  # a worker was killed: stage here, new workers next batch
        _drop_workers()
        return stage(raw, store.raw_root(), envelope)
    except Exception:  # the worker raised: stage here instead
        return stage(raw, store.raw_root(), envelope)


def ingest_stream(
    raws: Iterable[Source],
    *,
    door: str,
    envelope_from: str = "",
    envelope_rcpts: Sequence[str] = (),
    mailbox: str = "",
    batch: int = BATCH,
) -> Iterator[IngestOutcome]:
    """Store and process raws, batch mails per transaction; yields one outcome
    per raw, in order, each committed by the time it is yielded.

    An outcome is an IngestResult, or the InboundRejected / InboundError that
    ingest_raw_email would have raised for that mail.
    """
    envelope = make_envelope(
        door=door, envelope_from=envelope_from, envelope_rcpts=envelope_rcpts, mailbox=mailbox
    )
    queue: deque[tuple[list[Source], list[Pending]]] = deque()
    source = iter(raws)
    try:
        while chunk := list(itertools.islice(source, batch)):
            queue.append((chunk, _submit(chunk, envelope)))
            if len(queue) > AHEAD:
                chunk, pending = queue.popleft()
                yield from write(chunk, pending, [envelope] * len(chunk))
        while queue:
            chunk, pending = queue.popleft()
            yield from write(chunk, pending, [envelope] * len(chunk))
    finally:
        # A consumer that stopped early: remove the files nothing will record.
        for chunk, pending in queue:
            left = [_staged(item, raw, envelope) for raw, item in zip(chunk, pending, strict=True)]
            for staged in left:
                if isinstance(staged, Staged):
                    store.delete_raw(staged.raw_path)
            _discard_files(left)


def make_envelope(
    *, door: str, envelope_from: str = "", envelope_rcpts: Sequence[str] = (), mailbox: str = ""
) -> dict[str, Any]:
    """What a door knows about a mail besides its bytes, as stage() and
    write() take it (the row's columns, clipped to fit)."""
    if door not in InboundMessage.Door.values:
        raise ValueError(f"unknown door {door!r}")
    return {
        "door": door,
        "envelope_from": envelope_from,
        "envelope_rcpts": [str(r)[:320] for r in envelope_rcpts][:100],
        "mailbox": mailbox,
    }


def stage_now(raw: bytes, envelope: dict[str, Any]) -> Staged | InboundRejected:
    """One mail staged (by a worker process when there are some) and waited
    for: the SMTP listener's sessions stage their mails side by side, then
    hand them to its one writer (mailgateway.smtp)."""
    return _staged(_submit([raw], envelope)[0], raw, envelope)


def ingest_raw_emails(
    raws: Sequence[Source],
    *,
    door: str,
    envelope_from: str = "",
    envelope_rcpts: Sequence[str] = (),
    mailbox: str = "",
) -> list[IngestOutcome]:
    """ingest_stream for one batch of raws (one transaction)."""
    stream = ingest_stream(
        raws,
        door=door,
        envelope_from=envelope_from,
        envelope_rcpts=envelope_rcpts,
        mailbox=mailbox,
        batch=max(1, len(raws)),
    )
    return list(stream)


def write(
    raws: Sequence[Source],
    pending: Sequence[Pending],
    envelopes: Sequence[dict[str, Any]],
    *,
    defer_on_outage: bool = False,
) -> list[IngestOutcome]:
    """Write one batch in one transaction (step 2 above); each mail has its
    own envelope (the listener batches mails of different sessions). Returns
    one outcome per mail, once committed.

    defer_on_outage: when the database itself failed (unreachable, locked
    past the busy timeout), every mail of the batch gets InboundError at
    once instead of its own attempt, which would only wait for the same
    failure again; a sender that retries anyway (SMTP) wants its 451 now."""
    staged = [
        _staged(item, raw, env) for raw, item, env in zip(raws, pending, envelopes, strict=True)
    ]
    outcomes: list[IngestOutcome | None] = [
        s if isinstance(s, InboundRejected) else None for s in staged
    ]
    mails = {i: s for i, s in enumerate(staged) if isinstance(s, Staged) and s.raw_path}
    rows: dict[int, InboundMessage] = {}
    processed: dict[int, IngestResult | Exception] = {}
    committed = committing = refused = False
    outage = None
    started = time.monotonic()
    try:
        store.sync_dirs(s.raw_path for s in mails.values())
        fresh = _first_deliveries(mails)
        senders = Senders.for_batch(
            s.prepared.mail.sender for s in fresh.values() if s.prepared is not None
        )
        with transaction.atomic(), events.held() as hold:
            for i, s in fresh.items():
                row = rows[i] = InboundMessage(dedupe_key=s.key, raw_path=s.raw_path, **s.columns)
                processed[i] = _process(row, s.prepared, senders, hold)
            InboundMessage.objects.bulk_create(rows.values())
            # What fails from here on may be a COMMIT whose answer was lost:
            # the rows may be stored, so their files stay (found by the F3
            # fault suite: a stored mail had lost its raw file).
            committing = True
        committed = True
    except (DatabaseError, InboundError, OSError) as error:
        refused = surely_not_committed(error)
        if defer_on_outage and is_transient(error):
            outage = InboundError(f"database unavailable: {type(error).__name__}")
        log.warning("inbound batch of %d rolled back: %s", len(raws), error)
    finally:
        # Whatever did not commit (a rollback, or a bug raising through) leaves
        # no file; after a failed COMMIT the sweeper removes the orphans,
        # unless SQLite says it wrote nothing.
        for i, s in mails.items():
            if not (committing and i in rows) or refused:
                store.delete_raw(s.raw_path)
        _discard_files(staged)
    if not committed:
        rows.clear()
    took = int((time.monotonic() - started) * 1000)  # the batch's, shared by its mails
    for i, row in rows.items():
        result = processed[i]
        if isinstance(result, Exception):
            after_quarantine(row, result)
            outcomes[i] = IngestResult(InboundMessage.Outcome.QUARANTINED, None, row.pk)
        else:
            log_ingested(row, result.outcome, result.reference, took, batch=len(raws))
            outcomes[i] = dataclasses.replace(result, inbound_id=row.pk)
    return [
        outcome if outcome is not None else outage or _one(raw, env)
        for raw, outcome, env in zip(raws, outcomes, envelopes, strict=True)
    ]


def _discard_files(staged: Sequence[Staged | InboundRejected]) -> None:
    """Delete the attachment files workers saved that no committed row names
    (rolled back, quarantined, duplicates, or skipped as too large)."""
    names = [
        f.name
        for s in staged
        if isinstance(s, Staged) and s.prepared is not None
        for f in s.prepared.files
    ]
    if names:
        services.attachment_files_discard(names)


def _first_deliveries(mails: dict[int, Staged]) -> dict[int, Staged]:
    """The batch's mails whose dedupe key is new, the first of each key; the
    others go through the per-mail path, which records duplicates."""
    keys = [s.key for s in mails.values()]
    taken = set(
        InboundMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    fresh: dict[int, Staged] = {}
    for i, s in mails.items():
        if s.key not in taken:
            taken.add(s.key)
            fresh[i] = s
    return fresh


def _process(
    row: InboundMessage, prepared: Prepared | None, senders: Senders, hold: events.Hold
) -> IngestResult | Exception:
    """ingest.process for a row not inserted yet (no other door can see it):
    the result, or the exception that quarantines the mail (its changes,
    announcements and new accounts undone)."""
    checkpoint, joined = hold.checkpoint(), senders.checkpoint()
    try:
        with transaction.atomic():
            # No prepared form: the worker failed to parse; parsing again here
            # raises what it raised, and the mail is quarantined with it.
            mail = prepared.restored() if prepared else prepare(store.read_raw(row.raw_path))
            return _pipeline(row, mail, senders)
    except Exception as exc:
        if is_transient(exc):
            raise  # the whole batch rolls back and goes per mail
        hold.rollback(checkpoint)
        senders.rollback(joined)
        for name, value in quarantine_fields(row, exc).items():
            setattr(row, name, value)
        return exc


def _one(source: Source, envelope: dict[str, Any]) -> IngestOutcome:
    try:
        return ingest_raw_email(_read(source), **envelope)
    except OSError as exc:
        return InboundError(f"could not read the mail: {exc}")
    except (InboundRejected, InboundError) as exc:
        return exc

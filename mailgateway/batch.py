"""Many mails, one commit: the batch path of `ingest_email FILE...`.

ingest_raw_email pays two commits (two WAL fsyncs) and a parse on the one
core per mail. For a batch the same durability rules hold at lower cost:

1. every raw file is written and fsync'ed first (store.write_raw);
2. ONE transaction then inserts each mail's row and processes it, each mail
   in its own savepoints, so a mail that fails is quarantined (raw kept)
   without undoing the others;
3. only after that commit does the caller get the results, so no mail is
   acknowledged before its row is durable.

Parsing runs ahead in one worker process (the second core) while this
process threads and stores, so its cost hides behind the database work.

Anything unusual falls back to ingest_raw_email one mail at a time, which
owns the slow paths: a duplicate (its dedupe key is taken), a raw file that
cannot be written, and a database error, which rolls the whole batch back
(rows and files) before the per-mail path retries every mail of it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import MappingProxyType

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction

from mailgateway import store
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import (
    IngestResult,
    _pipeline,
    _quarantine,
    ingest_raw_email,
    max_message_bytes,
    row_fields,
)
from mailgateway.models import InboundMessage
from mailgateway.parse import InboundEmail, parse_email

log = logging.getLogger("mailgateway")

# Below this many mails a worker process costs more than it saves.
MIN_PARALLEL = 4

_pool: ProcessPoolExecutor | None = None


def _parse_portable(raw: bytes) -> InboundEmail | None:
    """Worker side: parse, in a form that pickles (MappingProxyType does not).

    None when parsing fails: the main process parses again inside the mail's
    savepoint, so the failure is quarantined exactly as on the per-mail path.
    """
    try:
        mail = parse_email(raw)
    except Exception:
        return None
    return dataclasses.replace(mail, headers=dict(mail.headers))


def _parser_pool() -> ProcessPoolExecutor | None:
    global _pool
    if (os.cpu_count() or 1) < 2:
        return None
    if _pool is None:
        # fork: the worker needs only the parse module, already imported.
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def _parsed(future: Future[InboundEmail | None] | None) -> InboundEmail | None:
    if future is None:
        return None
    try:
        mail = future.result()
    except Exception:  # a worker that died: parse here instead
        return None
    if mail is None:
        return None
    return dataclasses.replace(mail, headers=MappingProxyType(dict(mail.headers)))


IngestOutcome = IngestResult | InboundError | InboundRejected


def ingest_raw_emails(
    raws: Sequence[bytes],
    *,
    door: str,
    envelope_from: str = "",
    envelope_rcpts: Sequence[str] = (),
    mailbox: str = "",
) -> list[IngestOutcome]:
    """Store and process raws in one transaction; one outcome per raw, in order.

    An outcome is an IngestResult, or the InboundRejected / InboundError that
    ingest_raw_email would have raised for that mail. Every IngestResult is
    committed when this returns: the caller acknowledges only then.
    """
    if door not in InboundMessage.Door.values:
        raise ValueError(f"unknown door {door!r}")
    rcpts = [str(r)[:320] for r in envelope_rcpts][:100]
    limit = max_message_bytes()
    outcomes: list[IngestOutcome | None] = [None] * len(raws)
    staged: list[tuple[int, str]] = []  # (index, raw path) written and fsync'ed
    for i, raw in enumerate(raws):
        if len(raw) > limit:
            outcomes[i] = InboundRejected(
                "message too large", smtp_code="552 5.3.4 Message too big", exit_code=65
            )
            continue
        # An unwritable file is left None: the per-mail path retries and reports it.
        with contextlib.suppress(OSError):
            staged.append((i, store.write_raw(raw)))
    pool = _parser_pool() if len(staged) >= MIN_PARALLEL else None
    futures = {i: pool.submit(_parse_portable, raws[i]) for i, _ in staged} if pool else {}
    keep: set[int] = set()
    try:
        with transaction.atomic():
            for i, relative in staged:
                key, common = row_fields(
                    raws[i],
                    door=door,
                    envelope_from=envelope_from,
                    envelope_rcpts=rcpts,
                    mailbox=mailbox,
                )
                try:
                    with transaction.atomic():
                        row = InboundMessage.objects.create(
                            dedupe_key=key, raw_path=relative, **common
                        )
                except IntegrityError:
                    continue  # a duplicate: the per-mail path records it after the commit
                keep.add(i)
                outcomes[i] = _process(row, raws[i], _parsed(futures.get(i)))
    except (DatabaseError, InboundError) as exc:
        log.warning("inbound batch of %d rolled back, retrying per mail: %s", len(raws), exc)
        keep.clear()
        outcomes = [o if isinstance(o, InboundRejected) else None for o in outcomes]
    finally:
        for i, relative in staged:
            if i not in keep:
                store.delete_raw(relative)
    done: list[IngestOutcome] = []
    for i, outcome in enumerate(outcomes):
        if outcome is None:
            try:
                outcome = ingest_raw_email(
                    raws[i],
                    door=door,
                    envelope_from=envelope_from,
                    envelope_rcpts=rcpts,
                    mailbox=mailbox,
                )
            except (InboundRejected, InboundError) as exc:
                outcome = exc
        done.append(outcome)
    return done


def _process(row: InboundMessage, raw: bytes, mail: InboundEmail | None) -> IngestResult:
    """ingest.process for a row inserted in this very transaction (no lock
    needed: no other door sees the row before the commit)."""
    try:
        with transaction.atomic():
            result = _pipeline(row, raw, mail)
    except (OperationalError, InterfaceError):
        raise  # the whole batch rolls back and goes per mail
    except Exception as exc:
        return _quarantine(row, exc)
    log.info("inbound %s %s %s", row.pk, result.outcome, result.reference or "-")
    return result

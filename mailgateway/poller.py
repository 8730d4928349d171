"""Take new mail from an IMAP mailbox into the pipeline, exactly once.

1. Lock the mailbox (mailgateway.locks): an overlapping run returns at once.
2. Select the folder. A changed UIDVALIDITY means every UID we remember may now
   name another message (RFC 9051 2.3.1.1): forget them, log it, and take the
   folder again; the ingest key (Message-ID + sha256 of the bytes) turns every
   mail we already had into a `duplicate`, so nothing is ingested twice.
3. Finish acknowledging what an interrupted run ingested but did not move/flag.
4. Fetch the rest in batches (BODY.PEEK[]), store each batch through the batch
   path (one commit, mailgateway.batch), then write each mail's ImapSeen row;
   after each batch apply the after-processing action.

Why the ImapSeen row may be written just after the ingest returns, in its
own transaction, instead of inside ingest's: the ingest has committed the mail
under a unique key before returning. If we die before the ImapSeen row commits,
the message is still untouched on the server; the next run fetches it again and
the ingest answers `duplicate` (same UID, same bytes, same key), after which we
write the row and acknowledge. The window costs one extra fetch, never a second
ticket entry. The message is never flagged, moved or deleted before both commits.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils import timezone

from mailgateway import locks
from mailgateway.batch import ingest_raw_emails
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.imap import BATCH, ImapFailure, ImapSession
from mailgateway.ingest import IngestResult, ingest_raw_email
from mailgateway.mailboxes import ImapSeen, Mailbox

log = logging.getLogger(__name__)

REJECTED = "rejected"  # ImapSeen.outcome for mail the pipeline refuses for good
FAILED = "failed"  # not stored because of an unexpected error; retried next run

Progress = Callable[[int, int], None]  # (done, total)


class TransientFailure(Exception):
    """The pipeline cannot store mail right now (database down...): try again later."""


@dataclass
class PollResult:
    mailbox: str
    locked_out: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str = ""
    transient: bool = False

    @property
    def taken(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        if self.locked_out:
            return f"{self.mailbox}: another poller is working on it; skipped"
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        text = f"{self.mailbox}: {self.taken} new" + (f" ({counts})" if counts else "")
        return f"{text}; error: {self.error}" if self.error else text


def lock_name(mailbox: Mailbox) -> str:
    return f"poll_imap:{mailbox.name}"


def poll_mailbox(
    mailbox: Mailbox,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> PollResult:
    """One pass over one mailbox, holding its lock. Never raises for mail problems."""
    with locks.try_lock(lock_name(mailbox)) as locked:
        if not locked:
            return PollResult(mailbox.name, locked_out=True)
        result = PollResult(mailbox.name)
        try:
            with ImapSession(mailbox) as session:
                sync(mailbox, session, result, progress=progress, should_stop=should_stop)
        except ImapFailure as exc:
            result.error = str(exc)
        except TransientFailure as exc:
            result.error, result.transient = str(exc), True
        except DatabaseError as exc:
            # Our own bookkeeping failed (database down): nothing unstored was acknowledged.
            result.error = f"database unavailable: {type(exc).__name__}: {exc}"[:300]
            result.transient = True
        record_outcome(mailbox, result)
        return result


def record_outcome(mailbox: Mailbox, result: PollResult) -> None:
    """Keep the last success / last error on the row, for the admin and /healthz."""
    now = timezone.now()
    if result.error:
        log.warning("mailbox %s: %s", mailbox.name, result.error)
        mailbox.last_error, mailbox.last_error_at = result.error, now
        fields = ["last_error", "last_error_at"]
    else:
        mailbox.last_success_at, mailbox.last_error = now, ""
        fields = ["last_success_at", "last_error"]
    try:
        mailbox.save(update_fields=fields)
    except DatabaseError:
        # The database is what failed; the log line above is all we can leave.
        log.warning("mailbox %s: could not record the poll result", mailbox.name)


def sync(
    mailbox: Mailbox,
    session: ImapSession,
    result: PollResult,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Steps 2-4 of the module docstring on an open session."""
    uidvalidity = session.uidvalidity
    if mailbox.uidvalidity != uidvalidity:
        _reset_uid_state(mailbox, uidvalidity)
    on_server = session.uids()
    known = dict(
        ImapSeen.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity).values_list(
            "uid", "acknowledged"
        )
    )
    # Step 3: an earlier run stored these but died before (or while) acknowledging.
    unacked = [uid for uid in on_server if known.get(uid) is False]
    if unacked:
        session.acknowledge(unacked, again=True)
    gone_or_done = [uid for uid, acked in known.items() if not acked]
    if gone_or_done:
        listed = set(on_server)
        session.expunge_leftovers([uid for uid in gone_or_done if uid not in listed])
        # Acknowledged just now, or already moved/deleted before the crash.
        _mark_acknowledged(mailbox, uidvalidity, gone_or_done)
    new = [uid for uid in on_server if uid not in known]
    done = 0
    for start in range(0, len(new), BATCH):
        if should_stop():
            break
        group = new[start : start + BATCH]
        stored: list[int] = []
        try:
            fetched = list(session.fetch(group))
            for uid, outcome in _ingest_batch(mailbox, uidvalidity, fetched):
                result.outcomes[outcome] += 1
                if outcome not in {REJECTED, FAILED}:
                    stored.append(uid)
                done += 1
                if progress:
                    progress(done, len(new))
        finally:
            # Whatever committed is acknowledged, even when the batch broke off.
            if stored:
                session.acknowledge(stored)
                _mark_acknowledged(mailbox, uidvalidity, stored)


def _reset_uid_state(mailbox: Mailbox, uidvalidity: int) -> None:
    if mailbox.uidvalidity is not None:
        log.warning(
            "mailbox %s: UIDVALIDITY of %r changed from %s to %s; forgetting its UIDs and "
            "re-reading the folder (mail already taken comes back as duplicate)",
            mailbox.name,
            mailbox.folder,
            mailbox.uidvalidity,
            uidvalidity,
        )
    with transaction.atomic():
        ImapSeen.objects.filter(mailbox=mailbox).exclude(uidvalidity=uidvalidity).delete()
        mailbox.uidvalidity = uidvalidity
        mailbox.save(update_fields=["uidvalidity"])


def _mark_acknowledged(mailbox: Mailbox, uidvalidity: int, uids: Sequence[int]) -> None:
    ImapSeen.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity, uid__in=list(uids)).update(
        acknowledged=True
    )


def _ingest_batch(
    mailbox: Mailbox, uidvalidity: int, fetched: list[tuple[int, bytes]]
) -> Iterator[tuple[int, str]]:
    """(uid, outcome) for each fetched mail, stored through the batch path (one
    commit for the group); a group the batch path cannot take goes one by one."""
    if len(fetched) < 2:
        for uid, raw in fetched:
            yield uid, _ingest_one(mailbox, uidvalidity, uid, raw)
        return
    try:
        outcomes = ingest_raw_emails(
            [raw for _uid, raw in fetched], door="imap", mailbox=mailbox.name
        )
    except DatabaseError as exc:
        raise TransientFailure(f"could not store mail: {exc}"[:300]) from None
    except Exception:
        log.exception("mailbox %s: batch failed; taking its mails one by one", mailbox.name)
        for uid, raw in fetched:
            yield uid, _ingest_one(mailbox, uidvalidity, uid, raw)
        return
    transient: TransientFailure | None = None
    for (uid, _raw), outcome in zip(fetched, outcomes, strict=True):
        if isinstance(outcome, InboundError):
            # Keep going: the rest of the group is stored and is acknowledged.
            transient = transient or TransientFailure(
                f"could not store mail (uid {uid}): {outcome}"[:300]
            )
            yield uid, FAILED
        else:
            yield uid, _recorded(mailbox, uidvalidity, uid, outcome)
    if transient is not None:
        raise transient


def _ingest_one(mailbox: Mailbox, uidvalidity: int, uid: int, raw: bytes) -> str:
    try:
        ingested: IngestResult | InboundRejected = ingest_raw_email(
            raw, door="imap", mailbox=mailbox.name
        )
    except InboundRejected as exc:
        ingested = exc
    except (InboundError, DatabaseError) as exc:
        raise TransientFailure(f"could not store mail (uid {uid}): {exc}"[:300]) from None
    except Exception:
        # A bug, not the mail's fault (the pipeline quarantines bad mail itself):
        # leave the message on the server for the next run and go on with the rest.
        log.exception(
            "mailbox %s: uid %s could not be ingested; left on the server", mailbox.name, uid
        )
        return FAILED
    return _recorded(mailbox, uidvalidity, uid, ingested)


def _recorded(
    mailbox: Mailbox, uidvalidity: int, uid: int, ingested: IngestResult | InboundRejected
) -> str:
    if isinstance(ingested, InboundRejected):
        # Refused for good: remember it so we stop fetching it, but leave it on the
        # server where a person reading the mailbox can still see it.
        log.info("mailbox %s: uid %s rejected: %s", mailbox.name, uid, ingested)
        _remember(mailbox, uidvalidity, uid, REJECTED, None, acknowledged=True)
        return REJECTED
    _remember(mailbox, uidvalidity, uid, ingested.outcome, ingested.inbound_id)
    return str(ingested.outcome)


def _remember(
    mailbox: Mailbox,
    uidvalidity: int,
    uid: int,
    outcome: str,
    inbound_id: int | None,
    *,
    acknowledged: bool = False,
) -> None:
    try:
        ImapSeen.objects.update_or_create(
            mailbox=mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
            defaults={
                "outcome": outcome,
                "inbound_id": inbound_id,
                "acknowledged": acknowledged,
            },
        )
    except DatabaseError as exc:
        # The mail itself is stored; the next run will see it again as a duplicate.
        raise TransientFailure(f"could not record uid {uid}: {exc}"[:300]) from None

"""The one entry point every door calls: raw bytes in, what became of them out.

1. store: the exact bytes fsync'ed to the archive and an InboundMessage row
   committed (durability rule 1) -- only then may a door acknowledge;
2. process, in ONE transaction: parse, classify, thread, apply through
   tickets.services, record the outcome on the row. Anything that raises
   here rolls the transaction back and quarantines the mail (raw kept, error
   and traceback on the row); the door still acknowledges, the mail is safe.
   A database that fails mid-way leaves the row pending and raises
   InboundError: the sender retries, finds the stored row and processes it.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from config.objectstore import ObjectStoreError
from helpdesk.accounts import customer_get_or_create
from helpdesk.models import User
from mailgateway import filters, store
from mailgateway.addresses import is_our_address
from mailgateway.autoreply import classify, failed_recipients, recent_counts
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.models import InboundMessage
from mailgateway.parse import InboundEmail, content_digest, raw_message_id, with_fallback_sender
from mailgateway.prepare import Prepared, prepare
from mailgateway.quotes import cut_at_sent, forwarded_sender
from mailgateway.staff import StaffCommands, apply_commands, expand_canned, parse_commands
from mailgateway.threads import Verdict, find_thread
from tickets import access, events, services
from tickets.closing import is_bare_thanks
from tickets.models import Category, Message, Source, Team, Ticket
from tickets.references import strip_references
from tickets.routing import Arrival

log = logging.getLogger("mailgateway")

Outcome = InboundMessage.Outcome
MAX_CCS = 50
# A database error in processing is retried through the sender this many
# times; after that the mail is quarantined instead of deferred forever.
MAX_ATTEMPTS = 3
# Failures worth a retry rather than the quarantine: the database, the
# object store refusing an attachment, and a full disk (the mail's raw bytes
# and its pending row are kept; the sender's retry finishes it). The F4 fault
# suite found a full attachment disk quarantining every mail, for good.
TRANSIENT = (OperationalError, InterfaceError, ObjectStoreError)
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) or (isinstance(exc, OSError) and exc.errno in DISK_FULL)


# SQLite's errors for a transaction it refused or failed to write: read-only,
# locked, a full disk, a failed write. Its commit record was never written,
# so nothing was stored (SQLite rolls back); an fsync error, or a connection
# lost after a COMMIT was sent to PostgreSQL, may have committed.
NOT_COMMITTED = ("SQLITE_READONLY", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL")
NOT_COMMITTED_EXACT = frozenset({"SQLITE_IOERR_WRITE", "SQLITE_PERM"})


def surely_not_committed(exc: BaseException) -> bool:
    """A failed transaction that certainly stored nothing, even if it failed
    at its COMMIT: its raw files may go at once. Found by the F3 fault suite:
    with the SQLite file unwritable, every SMTP retry failed at its COMMIT and
    left its raw file for the sweeper (24 h later); an outage of hours would
    have filled the archive's disk with orphans."""
    seen: BaseException | None = exc
    for _ in range(4):  # Django's wrapper, then sqlite3's own error
        if seen is None:
            break
        name = str(getattr(seen, "sqlite_errorname", ""))
        if name.startswith(NOT_COMMITTED) or name in NOT_COMMITTED_EXACT:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # created replied duplicate autoreply bounce quarantined (pending)
    reference: str | None
    inbound_id: int


class Quarantine(Exception):
    """Raised inside processing to quarantine a mail on purpose (a loop, a
    forbidden sender domain): same path as an unexpected error, clearer message."""


class UnverifiedStaff(Quarantine):
    """Mail from a staff address that proved nothing (no reply token of theirs,
    no DMARC pass): held, since anyone can write an agent's From; taken for a
    customer's, it would open a ticket in the agent's name and mail everyone."""

    def __init__(self, sender: str) -> None:
        super().__init__(f"unverified staff mail: {sender} sent no reply token and no DMARC pass")


@dataclass(frozen=True)
class Vouch:
    """An admin vouching for a held staff mail: release it as the agent's own
    (threaded as usual), or attach it to a ticket (as an internal note)."""

    by: Any
    ticket: Ticket | None = None


def max_message_bytes() -> int:
    return int(getattr(settings, "HELPDESK_MAX_MESSAGE_MB", 25)) * 1024 * 1024


def ingest_raw_email(
    raw: bytes,
    *,
    door: str,
    envelope_from: str = "",
    envelope_rcpts: Sequence[str] = (),
    mailbox: str = "",
) -> IngestResult:
    """Store raw durably, then turn it into a ticket entry (or quarantine it).

    Raises InboundRejected (never retry) or InboundError (nothing stored, retry).
    """
    if door not in InboundMessage.Door.values:
        raise ValueError(f"unknown door {door!r}")
    started = time.monotonic()
    if len(raw) > max_message_bytes():
        raise InboundRejected(
            "message too large", smtp_code="552 5.3.4 Message too big", exit_code=65
        )
    row, duplicate_of = _store(
        raw,
        door=door,
        envelope_from=envelope_from,
        envelope_rcpts=[str(r)[:320] for r in envelope_rcpts][:100],
        mailbox=mailbox,
    )
    if duplicate_of is not None:
        if duplicate_of.outcome == Outcome.PENDING:
            # The first delivery was stored but never processed (a crash or a
            # database failure after the store): this retry finishes the job.
            result = process(duplicate_of, raw)
            return IngestResult(Outcome.DUPLICATE, result.reference, row.pk)
        reference = _reference(duplicate_of)
        took = int((time.monotonic() - started) * 1000)
        log_ingested(row, Outcome.DUPLICATE, reference, took, duplicate_of=duplicate_of.pk)
        return IngestResult(Outcome.DUPLICATE, reference, row.pk)
    return process(row, raw)


def _reference(row: InboundMessage) -> str | None:
    if row.ticket_id is None:
        return None
    return Ticket.objects.filter(pk=row.ticket_id).values_list("reference", flat=True).first()


def row_fields(
    raw: bytes, *, door: str, envelope_from: str, envelope_rcpts: list[str], mailbox: str
) -> tuple[str, dict[str, Any]]:
    """The dedupe key and the other columns of a new InboundMessage row."""
    sha256 = hashlib.sha256(raw).hexdigest()
    message_id = raw_message_id(raw)
    # Without a Message-ID only the exact bytes identify a mail (a retry by
    # the same door); with one, its content digest tells a copy that took
    # another path from a different mail reusing the id.
    key = f"mid:{message_id}:{content_digest(raw)[:32]}" if message_id else f"sha:{sha256}"
    common: dict[str, Any] = {
        "door": door,
        "mailbox": mailbox[:100],
        "envelope_from": envelope_from[:320],
        "envelope_rcpts": envelope_rcpts,
        "message_id": message_id[:255],
        "sha256": sha256,
        "size": len(raw),
    }
    return key, common


def _store(
    raw: bytes, *, door: str, envelope_from: str, envelope_rcpts: list[str], mailbox: str
) -> tuple[InboundMessage, InboundMessage | None]:
    key, common = row_fields(
        raw, door=door, envelope_from=envelope_from, envelope_rcpts=envelope_rcpts, mailbox=mailbox
    )
    relative = ""
    committing = False
    try:
        # Most mail is new: write and insert straight away and let the unique
        # constraint find duplicates (one query fewer than looking first).
        relative = store.write_raw(raw)
        try:
            with transaction.atomic():
                row = InboundMessage.objects.create(dedupe_key=key, raw_path=relative, **common)
                committing = True  # a failure from here may be a COMMIT that went through
            return row, None
        except IntegrityError:
            store.delete_raw(relative)
            relative = ""
            first = InboundMessage.objects.get(dedupe_key=key)
        duplicate = InboundMessage.objects.create(
            dedupe_key=None,
            duplicate_of=first,
            outcome=Outcome.DUPLICATE,
            ticket_id=first.ticket_id,
            processed_at=timezone.now(),
            **common,
        )
        return duplicate, first
    except (DatabaseError, OSError) as exc:
        if relative and (not committing or surely_not_committed(exc)):
            # Kept when the COMMIT's answer was lost: the row may be stored
            # (found by the F3 fault suite); the sweeper removes an orphan.
            store.delete_raw(relative)
        log.error("inbound mail not stored: %s: %s", type(exc).__name__, exc)
        raise InboundError(f"could not store the mail: {type(exc).__name__}") from exc


def process(
    row: InboundMessage, raw: bytes | None = None, *, vouch: Vouch | None = None
) -> IngestResult:
    """Parse, classify, thread and apply a stored mail in one transaction.

    The row is re-read under a lock first, even right after storing it: the
    same mail may reach another door (another of our mailboxes) in the
    meantime, and that door finishes a pending row it finds; the re-read makes
    exactly one of them process it.
    """
    started = time.monotonic()
    if raw is None:
        try:
            raw = store.read_raw(row.raw_path)
        except OSError as exc:
            raise InboundError(f"raw mail {row.raw_path} unreadable: {exc}") from exc
    working = row
    try:
        with transaction.atomic():
            working = InboundMessage.objects.select_for_update().get(pk=row.pk)
            if working.outcome != Outcome.PENDING:
                return IngestResult(working.outcome, _reference(working), working.pk)
            result = _pipeline(working, prepare(raw), vouch=vouch)
        log_ingested(
            row, result.outcome, result.reference, int((time.monotonic() - started) * 1000)
        )
        return result
    except Exception as exc:
        if is_transient(exc):
            return _database_failed(row, exc)
        # working carries what the pipeline learnt before failing (sender,
        # subject, verdict): the rollback lost it, the quarantine keeps it.
        return _quarantine(working, exc)


def _database_failed(row: InboundMessage, exc: Exception) -> IngestResult:
    try:
        attempts = row.attempts + 1
        InboundMessage.objects.filter(pk=row.pk).update(attempts=attempts)
    except DatabaseError:
        raise InboundError(f"database unavailable: {type(exc).__name__}") from exc
    if attempts >= MAX_ATTEMPTS:
        return _quarantine(row, exc)
    log.warning("inbound %s left pending: %s: %s", row.pk, type(exc).__name__, exc)
    raise InboundError(f"transient error while processing: {type(exc).__name__}") from exc


def quarantine_fields(row: InboundMessage, exc: BaseException) -> dict[str, Any]:
    """The columns that put row in the quarantine for exc (call it in the except block)."""
    deliberate = isinstance(exc, Quarantine)
    return {
        "from_address": row.from_address,
        "subject": row.subject,
        "verdict": row.verdict,
        "outcome": Outcome.QUARANTINED,
        "error": (str(exc) if deliberate else f"{type(exc).__name__}: {exc}")[:5000],
        "traceback": "" if deliberate else traceback.format_exc()[-20000:],
        "processed_at": timezone.now(),
        "ticket": None,
        "entry": None,
    }


def log_ingested(
    row: InboundMessage, outcome: str, reference: str | None, ms: int, **more: Any
) -> None:
    """The one log event per mail that reached an outcome (config.logs)."""
    log.info(
        "inbound %s %s %s",
        row.pk,
        outcome,
        reference or "-",
        extra={
            "event": "mail.ingested",
            "inbound": row.pk,
            "door": row.door,
            "outcome": str(outcome),
            "reference": reference,
            "ms": ms,
            **more,
        },
    )


def after_quarantine(row: InboundMessage, exc: BaseException) -> None:
    """Once the quarantine is committed: log it, and tell an agent whose mail
    was held how to write so that it works (at most one such mail a day)."""
    if isinstance(exc, Quarantine):
        log.info("inbound %s quarantined: %s", row.pk, exc)
    else:
        log.error("inbound %s quarantined: %s: %s", row.pk, type(exc).__name__, exc, exc_info=exc)
    if isinstance(exc, UnverifiedStaff):
        from helpdesk.account_mail import queue_unverified_staff

        user = User.objects.filter(email=row.from_address, is_active=True).first()
        if user is not None and user.is_staff:
            queue_unverified_staff(user, subject=row.subject)


def _quarantine(row: InboundMessage, exc: BaseException) -> IngestResult:
    try:
        InboundMessage.objects.filter(pk=row.pk).update(**quarantine_fields(row, exc))
    except DatabaseError as db_exc:
        raise InboundError("database unavailable while quarantining") from db_exc
    after_quarantine(row, exc)
    return IngestResult(Outcome.QUARANTINED, None, row.pk)


class Senders:
    """What processing reads about a mail's sender: their account and their
    mails in the loop guard's rate window.

    Senders() asks the database for each mail; for_batch() reads both for a
    whole batch in two queries and keeps them current as the batch's mails
    are processed (accounts it creates, mails that arrive)."""

    def __init__(
        self, users: dict[str, Any] | None = None, recent: Counter[str] | None = None
    ) -> None:
        self._users = users
        self._recent = recent
        self._joined: list[str] = []

    @classmethod
    def for_batch(cls, senders: Iterable[str]) -> Senders:
        emails = list({s for s in senders if s})
        users = {u.email: u for u in User.objects.filter(email__in=emails)}
        return cls(users, recent_counts(emails))

    def user(self, email: str) -> Any:
        if not email:
            return None
        if self._users is None:
            return User.objects.filter(email=email).first()
        return self._users.get(email)

    def include(self, email: str) -> None:
        """Read one more sender's account into a batch's (a sender the
        batch did not know: one a From-less mail borrowed)."""
        if self._users is not None and email and email not in self._users:
            user = User.objects.filter(email=email).first()
            if user is not None:
                self._users[email] = user

    def joined(self, user: Any) -> None:
        if self._users is not None:
            self._users[user.email] = user
            self._joined.append(user.email)

    def checkpoint(self) -> int:
        return len(self._joined)

    def rollback(self, checkpoint: int) -> None:
        """Forget the accounts joined since checkpoint (their savepoint rolled back)."""
        if self._users is not None:
            for email in self._joined[checkpoint:]:
                self._users.pop(email, None)
        del self._joined[checkpoint:]

    def arrived(self, email: str) -> int | None:
        """The sender's other mails in the rate window (None: not counted here)."""
        if self._recent is None:
            return None
        before = self._recent[email]
        self._recent[email] += 1
        return before


def _pipeline(
    row: InboundMessage,
    prepared: Prepared,
    senders: Senders | None = None,
    *,
    vouch: Vouch | None = None,
) -> IngestResult:
    senders = senders or Senders()
    mail = prepared.mail
    row.from_address = mail.sender[:254]
    row.subject = mail.subject[:255]
    if mail.message_id and not row.message_id:
        row.message_id = mail.message_id[:255]
    kind = classify(
        mail, envelope_from=_envelope(row), inbound_id=row.pk, recent=senders.arrived(mail.sender)
    )
    row.verdict = {"class": kind.kind, "reason": kind.reason}
    if prepared.quote_rule:
        row.verdict["quotes"] = prepared.quote_rule
    if prepared.tnef:
        row.verdict["tnef"] = prepared.tnef

    if kind.kind == "loop":
        raise Quarantine(f"mail loop: {kind.reason}")
    if kind.kind == "bounce":
        from outbound.bounces import bounced_mails, mark_bouncing

        failed = failed_recipients(mail)
        for address, reason in failed:
            if not is_our_address(address):
                mark_bouncing(email=address, reason=reason)
        row.verdict["bounced"] = [a for a, _ in failed]
        returned = bounced_mails(mail, failed)
        if returned:
            row.verdict["outbox"] = [item.pk for item, _ in returned]
        for item, reason in returned:
            if item.ticket is not None:
                services.mail_bounced(ticket=item.ticket, recipient=item.recipient, reason=reason)
        return _finish(row, Outcome.BOUNCE, None, None)
    if kind.kind == "person" and not mail.sender:
        # Only a person's mail borrows a sender from Reply-To, Sender,
        # Return-Path or the envelope: a bounce's empty From was classified
        # above as it arrived, and no robot becomes a customer.
        mail = with_fallback_sender(mail, row.envelope_from, refuse=_ours_exactly)
        prepared = dataclasses.replace(prepared, mail=mail)
        row.from_address = mail.sender[:254]
        senders.include(mail.sender)
    if mail.from_header != "from":
        row.verdict["sender_header"] = mail.from_header

    # Plugins' mail filters (mailgateway.filters), before threading; an
    # admin's vouch is a person's decision and skips them.
    decision = None
    if vouch is None:
        decision = filters.run(
            filters.IncomingMail(
                mail=mail,
                kind=kind.kind,
                door=row.door,
                mailbox=row.mailbox,
                envelope_from=row.envelope_from,
                envelope_rcpts=tuple(row.envelope_rcpts or ()),
            )
        )
    if decision is not None:
        row.verdict["filters"] = decision.as_json()
        if decision.action == filters.Action.DROP:
            return _finish(row, Outcome.DISCARDED, None, None)
        if decision.action == filters.Action.QUARANTINE:
            raise Quarantine(f"held by mail filter {decision.by}: {decision.reason}")

    sender_user = senders.user(mail.sender)
    verdict = find_thread(
        mail,
        envelope_rcpts=tuple(row.envelope_rcpts or ()),
        user=sender_user,
        vouched=vouch is not None,
    )
    if vouch is not None and vouch.ticket is not None:
        verdict.rule, verdict.ticket, verdict.reopen = "admin", vouch.ticket, False
        verdict.staff = verdict.internal_reply = access.is_staff(sender_user)
    row.verdict.update(verdict.as_json())
    if vouch is not None:
        row.verdict["vouched_by"] = getattr(vouch.by, "email", "")
    if verdict.supplier and verdict.ticket is not None:
        # Before anything that would make the sender a customer (an account,
        # a CC, a new ticket): an outside party's answer is for staff only.
        return _supplier_answer(row, prepared, verdict, quiet=kind.kind == "autoreply")
    if kind.kind == "autoreply":
        # Recorded quietly on the ticket it answers; never a new ticket (a
        # ticket would be acknowledged, and two robots would talk forever).
        entry = None
        if verdict.ticket is not None:
            entry = services.ticket_reply_add(
                ticket=verdict.ticket,
                author=None,
                body=prepared.new_text,
                internal=False,
                source=Source.EMAIL,
                message_id=mail.message_id,
                is_quiet=True,
            )
        return _finish(row, Outcome.AUTOREPLY, verdict.ticket, entry)

    if access.is_staff(sender_user) and not verdict.verified_staff:
        row.verdict["held"] = "unverified_staff"
        raise UnverifiedStaff(mail.sender)

    if verdict.ticket is not None:
        return _reply(row, prepared, verdict, _requester(mail, sender_user, senders), decision)
    forwarded_for = _forwarded_for(prepared, verdict)
    if forwarded_for is not None:
        row.verdict["forwarded_for"] = forwarded_for.email
        return _create(row, prepared, verdict, forwarded_for, decision)
    return _create(row, prepared, verdict, _requester(mail, sender_user, senders), decision)


def _forwarded_for(prepared: Prepared, verdict: Verdict) -> Any:
    """The customer a verified agent's forward is about: their forwarded mail
    is the request, so the ticket is theirs (None when it is not such a mail)."""
    if not verdict.verified_staff or prepared.quote_rule != "forward kept":
        return None
    original = forwarded_sender(prepared.text)
    if original is None or is_our_address(original[1]) or not _sender_allowed(original[1]):
        return None
    existing = User.objects.filter(email=original[1]).first()
    if existing is not None:
        return None if access.is_staff(existing) else existing
    return customer_get_or_create(email=original[1], full_name=original[0])


def _ours_exactly(address: str) -> bool:
    return is_our_address(address, domains=False)


def _envelope(row: InboundMessage) -> str | None:
    # Only doors that saw an SMTP envelope know the return path.
    if row.door in {InboundMessage.Door.SMTP, InboundMessage.Door.LMTP}:
        return row.envelope_from
    return None


_FINISH_FIELDS = [
    *("outcome", "ticket", "entry", "processed_at", "error", "traceback", "verdict"),
    *("from_address", "subject", "message_id"),
]


def _finish(
    row: InboundMessage, outcome: str, ticket: Ticket | None, entry: Message | None
) -> IngestResult:
    row.outcome = outcome
    row.ticket = ticket
    row.entry = entry
    row.processed_at = timezone.now()
    row.error = ""
    row.traceback = ""
    if row.pk is not None:  # the batch path inserts its rows once processed
        row.save(update_fields=_FINISH_FIELDS)
    return IngestResult(outcome, ticket.reference if ticket else None, row.pk)


def _html(prepared: Prepared, row: InboundMessage) -> str:
    if prepared.html_error:
        # Failed closed: no HTML at all, the text version is always stored.
        row.verdict["html"] = prepared.html_error
    return prepared.html


def _attachments(prepared: Prepared, row: InboundMessage) -> list[services.NewAttachment]:
    limit = int(getattr(settings, "HELPDESK_MAX_ATTACHMENT_MB", 20)) * 1024 * 1024
    out: list[services.NewAttachment] = []
    skipped: list[str] = []
    for i, item in enumerate(prepared.mail.attachments):
        content = prepared.files[i] if prepared.files else item.payload
        size = content.size if isinstance(content, services.StoredFile) else len(content)
        if size > limit:
            skipped.append(item.filename[:255])
            continue
        out.append(
            services.NewAttachment(
                name=item.filename,
                content_type=item.content_type,
                content=content,
                content_id=item.content_id,
                is_inline=item.is_inline,
            )
        )
    if skipped:
        row.verdict["attachments_skipped"] = skipped[:20]
    return out


def _ccs(mail: InboundEmail, sender: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for addr in (*mail.to, *mail.cc):
        if not addr.email or addr.email == sender or is_our_address(addr.email):
            continue
        seen.setdefault(addr.email, addr.name)
    return list(seen.items())[:MAX_CCS]


def _sender_allowed(sender: str) -> bool:
    allowed = [d.lower().lstrip("@") for d in settings.HELPDESK_ALLOWED_SENDER_DOMAINS]
    return not allowed or sender.rpartition("@")[2] in allowed


def _requester(mail: InboundEmail, existing: Any, senders: Senders) -> Any:
    sender = mail.sender
    if not sender:
        raise Quarantine("no usable From address")
    if existing is not None:
        return existing
    if not _sender_allowed(sender):
        raise Quarantine(f"sender domain not allowed: {sender.rpartition('@')[2]}")
    user = customer_get_or_create(email=sender, full_name=mail.from_.name if mail.from_ else "")
    senders.joined(user)
    return user


def _create(
    row: InboundMessage,
    prepared: Prepared,
    verdict: Verdict,
    requester: Any,
    decision: filters.Decision | None = None,
) -> IngestResult:
    mail = prepared.mail
    team, category = _hinted(row, decision)
    # The ticket and the filters' tags reach subscribers together.
    with events.held():
        ticket, entry = services.ticket_open(
            requester=requester,
            # A mail naming another ticket it could not join opens this one: our
            # mails about it must carry its reference only.
            subject=strip_references(mail.subject) or "(no subject)",
            body=prepared.text,
            source=Source.EMAIL,
            message_id=mail.message_id,
            body_html=_html(prepared, row),
            attachments=_attachments(prepared, row),
            ccs=_ccs(mail, mail.sender),
            linked_to=verdict.linked_to,
            priority=decision.priority if decision else "",
            arrival=Arrival(
                addresses=_our_addresses(row, mail),
                mailbox=row.mailbox,
                sender=mail.sender,
                category=category,
                team=team,
                decided_by=f"filter:{decision.team_by}" if team and decision else "",
            ),
        )
        _tag(ticket, decision)
    return _finish(row, Outcome.CREATED, ticket, entry)


def _hinted(
    row: InboundMessage, decision: filters.Decision | None
) -> tuple[Team | None, Category | None]:
    """The team and category the filters named, if they exist (a name that
    does not is noted in the verdict and left to routing)."""
    if decision is None or not (decision.team or decision.category):
        return None, None
    team = Team.objects.filter(name__iexact=decision.team).first() if decision.team else None
    category = (
        Category.objects.filter(name__iexact=decision.category).first()
        if decision.category
        else None
    )
    unknown = [
        f"{kind} {name!r}"
        for kind, name, found in (
            ("team", decision.team, team),
            ("category", decision.category, category),
        )
        if name and found is None
    ]
    if unknown:
        row.verdict.setdefault("filters", {})["unknown"] = unknown
    return team, category


def _tag(ticket: Ticket, decision: filters.Decision | None) -> None:
    for name in decision.tags if decision else ():
        services.ticket_tag_add(ticket=ticket, name=name, actor=None)


def _our_addresses(row: InboundMessage, mail: InboundEmail) -> tuple[str, ...]:
    """The addresses the mail was sent to us at, for routing: every envelope
    recipient (our MTA accepted them for us) and the To/Cc addresses that are ours."""
    headers = [a.email for a in (*mail.to, *mail.cc) if a.email and is_our_address(a.email)]
    seen = [*(row.envelope_rcpts or ()), *headers]
    return tuple(dict.fromkeys(a.lower() for a in seen if a))


def _reply(
    row: InboundMessage,
    prepared: Prepared,
    verdict: Verdict,
    author: Any,
    decision: filters.Decision | None = None,
) -> IngestResult:
    # The reply and what its commands change reach subscribers together: a
    # "#status resolved" with text is one mail to the customer, not two.
    with events.held():
        result = _reply_held(row, prepared, verdict, author)
        if verdict.ticket is not None:
            _tag(verdict.ticket, decision)  # a reply's filters tag the ticket it joins
        return result


def _reply_held(
    row: InboundMessage, prepared: Prepared, verdict: Verdict, author: Any
) -> IngestResult:
    ticket = verdict.ticket
    assert ticket is not None
    mail = prepared.mail
    new_text, quoted = prepared.new_text, prepared.quoted
    if not prepared.quote_rule and new_text:
        # No marker found: the text may still repeat what we sent on this ticket.
        sent = ticket.messages.filter(kind=Message.Kind.REPLY).order_by("-id")
        cut = cut_at_sent(new_text, sent.values_list("body", flat=True)[:10])
        if cut is not None:
            new_text, quoted = cut.new, cut.quoted
            row.verdict["quotes"] = cut.rule
    commands = StaffCommands()
    canned_missing = ""
    if verdict.staff:
        commands, new_text = parse_commands(new_text)
        new_text, canned_missing = expand_canned(
            ticket=ticket, commands=commands, text=new_text, actor=author
        )
    # An answer to a staff-only notice stays with staff unless the agent asks.
    internal = verdict.staff and (
        commands.internal or (verdict.internal_reply and not commands.public)
    )
    thanks = not verdict.staff and not mail.attachments and is_bare_thanks(new_text)
    if verdict.reopen and not thanks:
        # The customer (or agent) whose mail reopens the ticket did it.
        services.ticket_transition(ticket=ticket, to="open", actor=author)
    if not verdict.staff:
        for email_, name in _ccs(mail, mail.sender):
            services.ticket_cc_add(ticket=ticket, email=email_, name=name)
    entry = None
    if new_text or mail.attachments or not commands.commands:
        entry = services.ticket_reply_add(
            ticket=ticket,
            author=author,
            body=new_text,
            internal=internal,
            source=Source.EMAIL,
            message_id=mail.message_id,
            # The HTML still holds the command lines: the text is what was meant.
            body_html="" if commands.any else _html(prepared, row),
            quoted=quoted,
            attachments=_attachments(prepared, row),
        )
    else:
        services.mail_id_record(ticket=ticket, message_id=mail.message_id)
    row.verdict["internal"] = internal
    if commands.commands or canned_missing:
        done = [canned_missing] if canned_missing else []
        done += apply_commands(ticket=ticket, commands=commands, actor=author)
        row.verdict["commands"] = done
        services.ticket_event_add(ticket=ticket, body="\n".join(done), actor=author)
    return _finish(row, Outcome.REPLIED, ticket, entry)


def _supplier_answer(
    row: InboundMessage, prepared: Prepared, verdict: Verdict, *, quiet: bool
) -> IngestResult:
    assert verdict.ticket is not None
    mail = prepared.mail
    entry = services.ticket_external_note_add(
        ticket=verdict.ticket,
        from_email=mail.sender or verdict.supplier,
        body=prepared.new_text,
        message_id=mail.message_id,
        body_html=_html(prepared, row),
        quoted=prepared.quoted,
        attachments=_attachments(prepared, row),
        is_quiet=quiet,
    )
    row.verdict["internal"] = True
    outcome = Outcome.AUTOREPLY if quiet else Outcome.REPLIED
    return _finish(row, outcome, verdict.ticket, entry)


def follow_moved_entry(changes: Sequence[events.TicketChanged]) -> None:
    """Keep an inbound mail pointing at the ticket its entry was moved (or
    its ticket merged) to."""
    for event in changes:
        if (
            event.kind == "moved"
            and event.message is not None
            and event.extra.get("direction") == "in"
        ):
            InboundMessage.objects.filter(entry=event.message).update(ticket=event.ticket)
        elif event.kind == "merged" and event.extra.get("direction") == "in":
            # A merge moves every entry: so do the mails they came from.
            InboundMessage.objects.filter(ticket_id=event.extra["source_id"]).update(
                ticket=event.ticket
            )


def reprocess(row: InboundMessage, *, vouch: Vouch | None = None) -> IngestResult:
    """Run a quarantined or pending mail through processing again (admin,
    command); vouch: an admin releases a held staff mail."""
    if row.outcome not in {Outcome.QUARANTINED, Outcome.PENDING}:
        return IngestResult(row.outcome, _reference(row), row.pk)
    InboundMessage.objects.filter(pk=row.pk).update(
        outcome=Outcome.PENDING, error="", traceback="", attempts=0
    )
    row.refresh_from_db()
    return process(row, vouch=vouch)


@dataclass
class Reprocessed:
    """What re-processing a set of mails did: outcomes counted, and the
    error that stopped it (the database went away) if any."""

    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def summary(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())) or "-"


def reprocess_rows(rows: Iterable[InboundMessage], *, vouch: Vouch | None = None) -> Reprocessed:
    """reprocess() each row, counting outcomes; stops at the first transient
    failure (the rest would meet the same outage)."""
    done = Reprocessed()
    for row in rows:
        try:
            outcome = str(reprocess(row, vouch=vouch).outcome)
        except InboundError as exc:
            done.error = str(exc)
            break
        done.counts[outcome] = done.counts.get(outcome, 0) + 1
    return done

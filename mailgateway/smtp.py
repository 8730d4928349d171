"""The SMTP (and LMTP) door: aiosmtpd in front of ingest_raw_email.

Hardening per RELIABILITY-SECURITY.md (d): only our addresses are accepted
at RCPT (550 5.1.1 otherwise: no open relay, no backscatter); the data size
limit comes from HELPDESK_MAX_MESSAGE_MB (552 past it); per-session command
limits; 250 only after the raw mail is committed; 451 4.3.0 for every
internal error, never aiosmtpd's default "500 Error: (Class) msg", which
bounces the mail and leaks internals; neutral ident; optional STARTTLS.

Group commit. A session's mail is staged first: its raw bytes written and
fsync'ed, its dedupe key computed, parsed and prepared (mailgateway.batch:
by the batch path's worker processes when the listener has them, else in
the handler's thread pool). Then ONE committer thread writes whatever the
sessions have staged meanwhile in one transaction through the batch path's
writer (batch.write: a savepoint and quarantine per mail, one commit), and
only then answers each session: 250 after the commit that holds its mail.
Twenty sessions cost one commit instead of forty, and the batch reads of
senders, rates and subscribers are shared. batch.write itself sends a batch
that rolled back through ingest_raw_email one mail at a time; a bug raising
through it does the same here, so one bad mail costs nobody else their 250,
and a mail that still fails gets 451 (the sender retries).

The handler counts mails in flight so a SIGTERM can stop accepting and let
them finish before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import queue
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax
from django.conf import settings
from django.db import close_old_connections, connections

from mailgateway import batch
from mailgateway.addresses import is_our_address
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import IngestResult, ingest_raw_email, max_message_bytes

log = logging.getLogger("mailgateway.smtp")

MAX_RECIPIENTS = 100
# RCPT's call limit is above MAX_RECIPIENTS on purpose: RFC 5321 4.5.3.1.8
# asks for "452 too many recipients" past the limit, and a sender's MTA then
# delivers the mail to the recipients taken and the rest in another
# transaction. A call limit at MAX_RECIPIENTS answered the 101st RCPT "421"
# and hung up instead, so a mail to 150 addresses was not delivered to any
# (found by the B11 abuse suite). A session that keeps going is still cut off.
COMMAND_CALL_LIMIT = {"RCPT": 2 * MAX_RECIPIENTS, "NOOP": 5, "RSET": 10, "*": 20}
TEMPFAIL = "451 4.3.0 Temporary local error, please try again later"
# The committer waits this long for mails other sessions are still staging
# (never when none is), and writes at most MAX_BATCH mails per transaction.
COMMIT_WINDOW = 0.005
MAX_BATCH = batch.BATCH

IngestFn = Callable[..., IngestResult]


@dataclass(frozen=True)
class _Staged:
    raw: bytes
    envelope: dict[str, Any]
    staged: batch.Staged | InboundRejected
    reply: Future[str]  # the SMTP reply, set once the mail's fate is committed


def _reply(outcome: batch.IngestOutcome) -> str:
    if isinstance(outcome, InboundRejected):
        log.info("mail rejected: %s", outcome)
        return f"{outcome.smtp_code} {outcome}"
    if isinstance(outcome, InboundError):
        log.warning("mail deferred: %s", outcome)
        return TEMPFAIL
    return f"250 2.0.0 Ok: queued as {outcome.inbound_id} ({outcome.outcome})"


class Committer:
    """The listener's one writer: a thread that takes staged mails from a
    queue and writes them in batches (see the module docstring)."""

    def __init__(
        self,
        *,
        ingest: IngestFn = ingest_raw_email,
        keep_connections: bool = True,
        window: float = COMMIT_WINDOW,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.ingest = ingest
        self.keep_connections = keep_connections
        self.window = window
        self.max_batch = max_batch
        self.staging = 0  # mails being staged now: worth waiting for
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Staged | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="smtp-commit", daemon=True)
        self._thread.start()

    def expect(self) -> None:
        with self._lock:
            self.staging += 1

    def put(self, mail: _Staged) -> None:
        self._queue.put(mail)
        with self._lock:
            self.staging -= 1

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            mails, stop = self._gather(first)
            try:
                self._commit(mails)
            except Exception:
                # Never let the one writer die: every later session would hang.
                log.exception("inbound batch of %d not answered", len(mails))
                for mail in mails:
                    with contextlib.suppress(InvalidStateError):
                        mail.reply.set_result(TEMPFAIL)
            if stop:
                break
        if not self.keep_connections:
            connections.close_all()

    def _gather(self, first: _Staged) -> tuple[list[_Staged], bool]:
        """first and whatever else is staged by the end of the window."""
        mails, deadline = [first], time.monotonic() + self.window
        while len(mails) < self.max_batch:
            try:
                mail = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if self.staging <= 0 or left <= 0:
                    break
                try:
                    mail = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if mail is None:
                return mails, True
            mails.append(mail)
        return mails, False

    def _commit(self, mails: list[_Staged]) -> None:
        close_old_connections()
        try:
            outcomes = batch.write(
                [m.raw for m in mails],
                [m.staged for m in mails],
                [m.envelope for m in mails],
                defer_on_outage=True,
            )
            replies = [_reply(outcome) for outcome in outcomes]
        except Exception:
            # A bug raising through the batch (its files are gone, nothing
            # committed): each mail on its own, so it fails only its sender.
            log.exception("inbound batch of %d failed, writing its mails one by one", len(mails))
            replies = [self._one(m) for m in mails]
        finally:
            if self.keep_connections:
                close_old_connections()
            else:
                connections.close_all()
        for mail, reply in zip(mails, replies, strict=True):
            # A session that hung up meanwhile cancelled its reply; its mail
            # is committed all the same (a retry is a duplicate).
            with contextlib.suppress(InvalidStateError):
                mail.reply.set_result(reply)

    def _one(self, mail: _Staged) -> str:
        try:
            return _reply(self.ingest(mail.raw, **mail.envelope))
        except (InboundRejected, InboundError) as exc:
            return _reply(exc)
        except Exception:
            log.exception("unexpected error while storing a mail")
            return TEMPFAIL


class GatewayHandler:
    def __init__(
        self,
        *,
        lmtp: bool = False,
        ingest: IngestFn = ingest_raw_email,
        workers: int = 4,
        keep_connections: bool = True,
        window: float = COMMIT_WINDOW,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.lmtp = lmtp
        # Staging is fsync and, without worker processes, parsing: a few
        # threads overlap one mail's disk wait with another's parse.
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage")
        self.committer = Committer(
            ingest=ingest, keep_connections=keep_connections, window=window, max_batch=max_batch
        )
        self.in_flight = 0
        self._lock = threading.Lock()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not is_our_address(address):
            return f"550 5.1.1 <{address[:100]}>: Recipient address rejected"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail_envelope = batch.make_envelope(
            door="lmtp" if self.lmtp else "smtp",
            # MAIL FROM:<> (aiosmtpd gives ""): kept as "<>", so the loop guard
            # can tell a null return path from a door that saw no envelope.
            envelope_from=envelope.mail_from or "<>",
            envelope_rcpts=list(envelope.rcpt_tos),
        )
        reply: Future[str] = Future()
        with self._lock:
            self.in_flight += 1
        try:
            # Staging then queueing runs to its end even if the session hangs
            # up (aiosmtpd cancels this coroutine): no file is left behind
            # without a row.
            self.committer.expect()
            self.executor.submit(self._stage, raw, mail_envelope, reply)
            status = await asyncio.wrap_future(reply)
        finally:
            with self._lock:
                self.in_flight -= 1
        if self.lmtp:
            # RFC 2033 §4.2: one reply per accepted recipient after DATA.
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status

    def _stage(self, raw: bytes, envelope: dict[str, Any], reply: Future[str]) -> None:
        staged: batch.Staged | InboundRejected
        try:
            staged = batch.stage_now(raw, envelope)
        except Exception:
            log.exception("unexpected error while staging a mail")
            staged = batch.Staged("", "", {}, None)  # the writer takes the per-mail path
        self.committer.put(_Staged(raw, envelope, staged, reply))

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %s", type(error).__name__, exc_info=error)
        return TEMPFAIL

    def shutdown(self) -> None:
        # Staging first: every staged mail is queued before the committer's last batch.
        self.executor.shutdown(wait=True)
        self.committer.close()


END_OF_DATA = b"\r\n.\r\n"
MAX_SESSIONS_PER_CLIENT = 50
DATA_IN_FLIGHT_FACTOR = 8  # messages of the size limit all sessions may hold at once
OVERLOADED = "421 4.3.2 Too much mail in transit, try again later"


class _WholeData(SMTP):
    """DATA read in chunks instead of a line at a time.

    aiosmtpd's smtp_DATA awaits, logs and joins every line in Python: a
    2 MB attachment is 27,000 base64 lines, and that loop was a quarter of
    the listener's CPU. This reads whatever has arrived and looks for the
    end (CRLF . CRLF, found by bytes.find) with the same answers: 552 past
    the size limit, dot-stuffing undone (RFC 5321 4.5.2), and nothing but
    CRLF . CRLF ends the data (a bare-LF dot does not: no smuggling). Bytes
    a pipelining client sent after the end go back to the reader for the
    next command.

    One answer differs: a text line may be longer than the 1,000 octets of
    RFC 5321 4.5.3.1.6 (up to data_line_limit). Mailers do send 8-bit HTML
    on one long line (1 in 400 mails of the benchmark corpus), and a 500
    would bounce a customer's mail that we can store as sent (4.5.3.1 asks
    for no limits where possible; Postfix takes such lines too). Command
    lines keep aiosmtpd's limit.
    """

    data_line_limit = 64 * 1024
    # What all sessions of this process hold in DATA right now. Each session
    # is capped at the size limit, but not their sum: ten clients sending
    # nearly 25 MB each and never ending held 250 MB, and a few hundred would
    # have the listener killed for its memory (found by the B11 abuse suite).
    # Past DATA_IN_FLIGHT_FACTOR messages of the size limit, the session
    # whose data tips it over is told 421 (try later) and closed.
    data_in_flight = 0
    # Open sessions per client address. Each idle session holds a file
    # descriptor for up to the 300 s timeout, and the service runs with
    # systemd's 1,024 by default: a thousand connections from one host left
    # no descriptor to accept anyone else's mail. Past
    # MAX_SESSIONS_PER_CLIENT (Postfix's default client connection limit) a
    # new session from that host is told 421 and closed.
    sessions_by_client: ClassVar[Counter[str]] = Counter()
    _client: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._original_transport is None  # not the STARTTLS hand-over
        super().connection_made(transport)
        if first:
            peer = transport.get_extra_info("peername")
            self._client = str(peer[0]) if isinstance(peer, tuple) else ""
            _WholeData.sessions_by_client[self._client] += 1

    def connection_lost(self, error: Exception | None) -> None:
        if self._client is not None:
            _WholeData.sessions_by_client[self._client] -= 1
            if _WholeData.sessions_by_client[self._client] <= 0:
                del _WholeData.sessions_by_client[self._client]
            self._client = None
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self.sessions_by_client[self._client or ""] > MAX_SESSIONS_PER_CLIENT:
            log.warning("too many sessions from %s: refused", self._client)
            await self.push("421 4.7.0 Too many connections from your host, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data, error = await self._read_data()
        except asyncio.CancelledError:
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        if error:
            await self.push(error)
            self.envelope = self._create_envelope()  # aiosmtpd's post-DATA state
            if error.startswith("421"):
                assert self.transport is not None
                self.transport.close()  # the rest of its data is not read
            return
        self.envelope.content = self.envelope.original_content = data
        status = await self._call_handler_hook("DATA")
        self.envelope = self._create_envelope()  # aiosmtpd's post-DATA state
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, str]:
        """The message (unstuffed), or b"" and the error to answer."""
        held = [0]  # what this session adds to data_in_flight
        try:
            return await self._read_data_held(held)
        finally:
            _WholeData.data_in_flight -= held[0]

    def _hold(self, held: list[int], size: int) -> bool:
        """Count size bytes held by this session; False past the budget."""
        _WholeData.data_in_flight += size - held[0]
        held[0] = size
        budget = (self.data_size_limit or 0) * DATA_IN_FLIGHT_FACTOR
        return not budget or _WholeData.data_in_flight <= budget

    async def _read_data_held(self, held: list[int]) -> tuple[bytes, str]:
        limit = self.data_size_limit
        # The DATA line's CRLF, so that an empty message ends in CRLF . CRLF too.
        buf, searched, dropped = bytearray(b"\r\n"), 0, 0
        while (end := buf.find(END_OF_DATA, searched)) < 0:
            searched = max(0, len(buf) - len(END_OF_DATA) + 1)
            if limit and len(buf) + dropped > limit + len(END_OF_DATA) + 2:
                # Too much: keep reading to the end, keep only its possible start.
                dropped += searched
                del buf[:searched]
                searched = 0
            # Everything buffered (so what is given back below comes first).
            chunk = await self._reader.read(sys.maxsize)
            if not chunk:
                raise asyncio.CancelledError  # the client hung up
            buf += chunk
            if not self._hold(held, len(buf)):
                log.warning("mail data in flight past the budget: session closed")
                return b"", OVERLOADED
        rest = bytes(buf[end + len(END_OF_DATA) :])
        if rest and not self._reader.at_eof():
            self._reader.feed_data(rest)  # a pipelined command
        if dropped or (limit and end + dropped > limit):
            return b"", "552 Error: Too much mail data"
        if self._has_long_line(buf, end + 2):
            return b"", "500 Line too long (see RFC5321 4.5.3.1.6)"
        if buf.find(b"\r\n.", 0, end + 2) < 0:
            return bytes(memoryview(buf)[2 : end + 2]), ""  # nothing dot-stuffed: one copy
        return bytes(buf[: end + 2]).replace(b"\r\n.", b"\r\n")[2:], ""

    def _has_long_line(self, buf: bytearray, end: int) -> bool:
        """Whether buf[:end] has a line of data_line_limit bytes or more.
        Each step jumps to the last line feed within a limit's reach, so a
        2 MB mail takes some 30 finds, not one per line."""
        reach, start = self.data_line_limit - 2, 0
        while end - start > reach:
            newline = buf.rfind(b"\n", start, start + reach)
            if newline < 0:
                return True
            start = newline + 1
        return False


class _Hardened(_WholeData):
    local_part_limit = 64


class _HardenedLMTP(_WholeData, LMTP):
    local_part_limit = 64


class GatewayController(Controller):
    def __init__(self, handler: GatewayHandler, **kwargs: Any) -> None:
        self.lmtp = handler.lmtp
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        cls = _HardenedLMTP if self.lmtp else _Hardened
        return cls(self.handler, **self.SMTP_kwargs)


def tls_context() -> ssl.SSLContext | None:
    cert = getattr(settings, "HELPDESK_SMTP_TLS_CERT", "")
    key = getattr(settings, "HELPDESK_SMTP_TLS_KEY", "")
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key or None)
    return context


def make_controller(
    *, host: str, port: int, lmtp: bool = False, handler: GatewayHandler | None = None
) -> GatewayController:
    handler = handler or GatewayHandler(lmtp=lmtp)
    return GatewayController(
        handler,
        hostname=host,
        port=port,
        server_hostname=socket.getfqdn(),
        ident="ESMTP",
        data_size_limit=max_message_bytes(),
        command_call_limit=COMMAND_CALL_LIMIT,
        tls_context=tls_context(),
        require_starttls=False,
        # Keep raw bytes; 8-bit and SMTPUTF8 mail is stored as sent.
        decode_data=False,
        enable_SMTPUTF8=True,
        timeout=300,
        # We are an MX/LMTP target, not a submission server: no AUTH at all.
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 256 * 1024


def steady_malloc() -> None:
    """Have glibc map every buffer of 256 KB or more on its own (call it
    before threads start).

    The listener used to grow about 20 MB per 1,000 mails under 20 senders
    with nothing growing in Python's heap (tracemalloc, object counts: flat).
    glibc raises its mmap threshold to the size of each large block freed
    (up to 32 MB), so after the first big mail the next mails' raw bytes
    and parsed parts come from the threads' arenas, whose holes are not
    given back to the system. A fixed threshold keeps such buffers in maps
    of their own, returned when freed. (Two malloc arenas kept the RSS
    flat too, but the CPU per mail looked 10-15 % higher in those runs:
    the threads then contend for malloc's locks.)
    MALLOC_MMAP_THRESHOLD_ in the environment still wins; on another libc
    this does nothing."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass  # not glibc (musl, macOS)


def serve(
    *, host: str, port: int, lmtp: bool = False, stop: threading.Event, grace: float = 60.0
) -> None:
    """Run until stop is set, then stop accepting and let mails in flight finish."""
    # aiosmtpd logs every command with its arguments (addresses) at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    steady_malloc()
    # Before the first thread starts: forking a threaded process could copy
    # a lock another thread holds. Without workers, sessions stage in threads.
    if batch.start_workers():
        log.info("staging mails in worker processes")
    controller = make_controller(host=host, port=port, lmtp=lmtp)
    controller.start()
    handler: GatewayHandler = controller.handler
    log.info("%s listening on %s:%s", "LMTP" if lmtp else "SMTP", host, port)
    try:
        stop.wait()
    finally:
        server = controller.server
        if server is not None:
            controller.loop.call_soon_threadsafe(server.close)
        waited = 0.0
        while handler.in_flight and waited < grace:
            time.sleep(0.1)
            waited += 0.1
        controller.stop()
        handler.shutdown()
        log.info("listener stopped")

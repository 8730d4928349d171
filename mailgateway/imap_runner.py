"""How poll_imap runs: one pass (cron), a polling loop, or IMAP IDLE per mailbox."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from django.db import DatabaseError, close_old_connections, connection

from mailgateway import locks
from mailgateway.imap import ImapFailure, ImapSession
from mailgateway.mailboxes import Mailbox, sync_env_mailbox
from mailgateway.poller import (
    PollResult,
    Progress,
    TransientFailure,
    lock_name,
    poll_mailbox,
    record_outcome,
    sync,
)

log = logging.getLogger(__name__)

IDLE_CHECK = 30.0  # seconds between looks at the stop flag while idling
IDLE_RENEW = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 30-minute timeout
MAX_BACKOFF = 300.0
RESCAN = 60.0  # seconds between looks for new mailboxes in --idle mode

Report = Callable[[PollResult], None]


class UnknownMailbox(Exception):
    pass


def mailboxes(name: str | None = None) -> list[Mailbox]:
    """Active mailboxes (including HELPDESK_IMAP_URL's), or the one named."""
    sync_env_mailbox()
    if name is None:
        return list(Mailbox.objects.filter(is_active=True))
    try:
        mailbox = Mailbox.objects.get(name=name)
    except Mailbox.DoesNotExist:
        raise UnknownMailbox(f"no mailbox named {name!r}") from None
    if not mailbox.is_active:
        raise UnknownMailbox(f"mailbox {name!r} is not active")
    return [mailbox]


def tty_progress(label: str, stream: TextIO | None = None) -> Progress | None:
    """A progress bar for big first syncs on a terminal; None (silence) under cron."""
    out = stream or sys.stderr
    if not out.isatty():
        return None
    last = [0.0]

    def draw(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.1 and done != total:
            return
        last[0] = now
        filled = int(30 * done / total) if total else 30
        out.write(f"\r{label} [{'#' * filled}{' ' * (30 - filled)}] {done}/{total}")
        if done == total:
            out.write("\n")
        out.flush()

    return draw


def poll_all(
    boxes: list[Mailbox], *, stop: threading.Event, show_progress: bool = True
) -> list[PollResult]:
    results = []
    for mailbox in boxes:
        if stop.is_set():
            break
        progress = tty_progress(mailbox.name) if show_progress else None
        results.append(poll_mailbox(mailbox, progress=progress, should_stop=stop.is_set))
    return results


def run_loop(name: str | None, *, interval: float, stop: threading.Event, report: Report) -> None:
    """Poll every interval seconds until stopped; mailboxes added later are picked up."""
    while not stop.is_set():
        if not connection.in_atomic_block:
            close_old_connections()
        for result in poll_all(mailboxes(name), stop=stop):
            report(result)
        stop.wait(interval)


def run_idle(name: str | None, *, stop: threading.Event, report: Report) -> None:
    """One thread per mailbox, each holding its lock and an IDLE connection.

    Mailboxes added (or switched on) later get their thread within RESCAN seconds;
    with none configured it just waits, so it can run under a Procfile/honcho.
    """
    waker = threading.Thread(target=_wake_on_stop, args=(stop,), name="idle-waker", daemon=True)
    waker.start()
    threads: dict[int, threading.Thread] = {}
    while not stop.is_set():
        for box in mailboxes(name):
            if box.pk not in threads or not threads[box.pk].is_alive():
                thread = threading.Thread(
                    target=_idle_thread, args=(box, stop, report), name=f"idle-{box.name}"
                )
                threads[box.pk] = thread
                thread.start()
        connection.close()  # the main thread needs no connection between scans
        stop.wait(RESCAN)
    for thread in threads.values():
        thread.join()


_sessions: set[ImapSession] = set()
_sessions_lock = threading.Lock()


def _wake_on_stop(stop: threading.Event) -> None:
    """On SIGTERM, end every IDLE at once instead of after its IDLE_CHECK timeout."""
    stop.wait()
    with _sessions_lock:
        for session in _sessions:
            session.interrupt()


def _idle_thread(mailbox: Mailbox, stop: threading.Event, report: Report) -> None:
    try:
        idle(mailbox, stop=stop, report=report)
    finally:
        connection.close()  # this thread's own database connection


def idle(mailbox: Mailbox, *, stop: threading.Event, report: Report) -> None:
    """Keep one connection in IMAP IDLE and take new mail the moment it arrives.

    Reconnects with exponential backoff after failures, and every IDLE_RENEW
    seconds anyway (which also renews an OAuth token before it lapses).
    """
    with locks.try_lock(lock_name(mailbox)) as locked:
        if not locked:
            report(PollResult(mailbox.name, locked_out=True))
            return
        backoff = 5.0
        while not stop.is_set():
            try:
                mailbox.refresh_from_db()
            except Mailbox.DoesNotExist:
                return
            except DatabaseError:
                log.warning("mailbox %s: database unavailable; retrying", mailbox.name)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if not mailbox.is_active:
                return
            result = PollResult(mailbox.name)
            try:
                with ImapSession(mailbox, timeout=IDLE_CHECK + 60) as session:
                    with _sessions_lock:
                        _sessions.add(session)
                    try:
                        _idle_session(mailbox, session, stop=stop, report=report)
                    finally:
                        with _sessions_lock:
                            _sessions.discard(session)
                backoff = 5.0
            except (ImapFailure, TransientFailure, DatabaseError) as exc:
                if stop.is_set():
                    break  # the waker shut the socket on purpose
                result.error = str(exc)
                result.transient = not isinstance(exc, ImapFailure)
                record_outcome(mailbox, result)
                report(result)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)


def _idle_session(
    mailbox: Mailbox, session: ImapSession, *, stop: threading.Event, report: Report
) -> None:
    """Sync, IDLE until the server announces mail, sync again... until time to reconnect."""
    if not session.supports_idle():
        raise ImapFailure("the server does not support IDLE; run without --idle")
    connected = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        result = PollResult(mailbox.name)
        sync(mailbox, session, result, should_stop=stop.is_set)
        record_outcome(mailbox, result)
        if result.taken:
            report(result)
        if stop.is_set():
            return
        if time.monotonic() - connected > IDLE_RENEW:
            return  # reconnect: RFC 2177 timeouts, token renewal
        # Sync after every IDLE round, news or not: mail that arrived during the
        # sync was announced in the replies to the sync's own commands, which
        # imapclient does not keep, so IDLE alone would sleep past it.
        session.wait_for_news(IDLE_CHECK)
        session.select()

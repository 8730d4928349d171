"""The SMTP (and LMTP) door: aiosmtpd in front of ingest_raw_email.

Hardening per RELIABILITY-SECURITY.md (d): only our addresses are accepted
at RCPT (550 5.1.1 otherwise: no open relay, no backscatter); the data size
limit comes from HELPDESK_MAX_MESSAGE_MB (552 past it); per-session command
limits; 250 only after the raw mail is committed; 451 4.3.0 for every
internal error, never aiosmtpd's default "500 Error: (Class) msg", which
bounces the mail and leaks internals; neutral ident; optional STARTTLS.

The handler runs the (blocking, database) ingest in a small thread pool so
the event loop keeps serving other sessions, and counts mails in flight so a
SIGTERM can stop accepting and let them finish before exiting.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections

from mailgateway.addresses import is_our_address
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import IngestResult, ingest_raw_email, max_message_bytes

log = logging.getLogger("mailgateway.smtp")

MAX_RECIPIENTS = 100
COMMAND_CALL_LIMIT = {"RCPT": MAX_RECIPIENTS, "NOOP": 5, "RSET": 10, "*": 20}
TEMPFAIL = "451 4.3.0 Temporary local error, please try again later"

IngestFn = Callable[..., IngestResult]


class GatewayHandler:
    def __init__(
        self,
        *,
        lmtp: bool = False,
        ingest: IngestFn = ingest_raw_email,
        workers: int = 4,
        keep_connections: bool = True,
    ) -> None:
        self.lmtp = lmtp
        self.keep_connections = keep_connections
        self.ingest = ingest
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
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
        with self._lock:
            self.in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            status = await loop.run_in_executor(
                self.executor,
                self._ingest,
                raw,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
            )
        finally:
            with self._lock:
                self.in_flight -= 1
        if self.lmtp:
            # RFC 2033 §4.2: one reply per accepted recipient after DATA.
            return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))
        return status

    def _ingest(self, raw: bytes, mail_from: str, rcpts: list[str]) -> str:
        close_old_connections()
        try:
            result = self.ingest(
                raw,
                door="lmtp" if self.lmtp else "smtp",
                envelope_from=mail_from,
                envelope_rcpts=rcpts,
            )
        except InboundRejected as exc:
            log.info("mail rejected: %s", exc)
            return f"{exc.smtp_code} {exc}"
        except InboundError as exc:
            log.warning("mail deferred: %s", exc)
            return TEMPFAIL
        except Exception:
            log.exception("unexpected error while storing a mail")
            return TEMPFAIL
        finally:
            if self.keep_connections:
                close_old_connections()
            else:
                connections.close_all()
        return f"250 2.0.0 Ok: queued as {result.inbound_id} ({result.outcome})"

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %s", type(error).__name__, exc_info=error)
        return TEMPFAIL

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


class _Hardened(SMTP):
    local_part_limit = 64


class _HardenedLMTP(LMTP):
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


def serve(
    *, host: str, port: int, lmtp: bool = False, stop: threading.Event, grace: float = 60.0
) -> None:
    """Run until stop is set, then stop accepting and let mails in flight finish."""
    # aiosmtpd logs every command with its arguments (addresses) at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
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

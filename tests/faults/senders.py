"""An SMTP sender that retries like an MTA until it sees 250, and the tally
of every answer it got (shared by the fault suites)."""

from __future__ import annotations

import random
import re
import smtplib
import threading
import time
from dataclasses import dataclass, field

HANG_UP = 0.05  # the share of mails whose first reply the sender never reads


@dataclass
class Tally:
    acked: int = 0
    attempts: int = 0
    hung_up: int = 0  # replies the sender did not wait for
    lost_replies: int = 0  # DATA sent, then the connection dropped: maybe committed
    tempfails: int = 0
    refused: int = 0  # no listener (killed, restarting)
    permanent: list[str] = field(default_factory=list)  # 5xx: must stay empty
    latencies: list[float] = field(default_factory=list)  # DATA sent -> 250
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver(
    port: int,
    raw: bytes,
    sender: str,
    tally: Tally,
    stop: threading.Event,
    hang_up: float = HANG_UP,
    timeout: float = 60,
) -> None:
    """One mail, retried until 250 as an MTA would (with a short backoff);
    now and then the first attempt hangs up without reading the reply."""
    backoff, hang_up_now = 0.05, random.random() < hang_up
    while not stop.is_set():
        with tally.lock:
            tally.attempts += 1
        in_data = False
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
                client.ehlo("mta.test")
                code, reply = client.mail(sender)
                if code == 250:
                    code, reply = client.rcpt("support@example.com")
                if code == 250 and hang_up_now:
                    # An MTA that timed out waiting: the whole mail sent, the
                    # reply never read. It will send the mail again.
                    hang_up_now = False
                    code, reply = client.docmd("DATA")
                    if code == 354:
                        client.send(re.sub(rb"(?m)^\.", b"..", raw) + b".\r\n")
                        with tally.lock:
                            tally.hung_up += 1
                        client.close()
                        continue
                if code == 250:
                    in_data = True
                    started = time.monotonic()
                    code, reply = client.data(raw)
                    took = time.monotonic() - started
            if code == 250:
                with tally.lock:
                    tally.acked += 1
                    tally.latencies.append(took)
                return
            with tally.lock:
                if code >= 500:
                    tally.permanent.append(f"{code} {reply!r}")
                    return
                tally.tempfails += 1
        except smtplib.SMTPDataError as exc:  # smtplib raises for a non-250 end of DATA
            with tally.lock:
                if exc.smtp_code >= 500:
                    tally.permanent.append(f"{exc.smtp_code} {exc.smtp_error!r}")
                    return
                tally.tempfails += 1
        except (OSError, smtplib.SMTPException):
            with tally.lock:
                if in_data:
                    tally.lost_replies += 1
                else:
                    tally.refused += 1
        time.sleep(backoff * random.uniform(0.5, 1.5))
        backoff = min(backoff * 2, 1.0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0

"""B11: SMTP protocol abuse against a real `manage.py smtpd` (with a
certificate, so STARTTLS is offered), RELIABILITY-SECURITY.md (c) and
aiosmtpd's CVE-2024-27305 / CVE-2024-34083.

One listener takes, in turn: end-of-data smuggling with bare LF and bare CR
(`\\n.\\n`, `\\r\\n.\\n`, `\\n.\\r\\n`, `\\r.\\r\\n`, `\\r.\\n`); cleartext commands
pipelined behind STARTTLS; command lines of 600 bytes, 1,002 bytes, 70 KB and
1 MB; a data line of 70 KB; 1,000 RCPT; a mail to 150 recipients; 10,000 NOOP;
unknown verbs; a mail with 5 MB of headers; and slow clients — idle
connections held open after EHLO and a slowloris sending its DATA one byte at
a time — while a normal sender delivers a mail. Checked: one message where
smuggling tried two; the injected commands ignored; 500 / 552 / 452 / 421 / 502
where RFC 5321 and the limits say, and the connection closed when a call limit
is hit; the normal sender always gets its 250; the listener is alive at the
end; its RSS (with its worker processes) is sampled throughout and bounded.
"""

from __future__ import annotations

import re
import resource
import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailgateway.models import InboundMessage
from tests.faults import ledger
from tests.faults.conftest import child_env  # noqa: F401 (a fixture)
from tests.mailgateway.conftest import _raw_dir, make_mail  # noqa: F401 (a fixture)
from tests.mailgateway.test_smtp import _self_signed, crlf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REPLY = re.compile(rb"^(\d{3})[ ](.*)$", re.M)
SUPPORT = "support@example.com"


class Wire:
    """A raw SMTP client: send bytes, read final reply lines (multi-line
    replies count once), see whether the server hung up."""

    def __init__(self, port: int, timeout: float = 60, source: str = "127.0.0.1") -> None:
        # Linux routes all of 127/8 to loopback: other source addresses are
        # other client hosts to the listener.
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        self.buf = b""
        self.closed = False
        self.greeting = self.replies(1)
        if source == "127.0.0.1":
            assert self.greeting == [b"220"]

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def replies(self, n: int, *, limit: float = 60) -> list[bytes]:
        """The next n reply codes (fewer if the server hangs up first)."""
        deadline = time.monotonic() + limit  # a hang guard
        while len(REPLY.findall(self.buf)) < n and not self.closed:
            if time.monotonic() > deadline:
                break
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
        found = REPLY.findall(self.buf)[:n]
        if found:
            end = [m.end() for m in REPLY.finditer(self.buf)][len(found) - 1]
            self.buf = self.buf[end:].lstrip(b"\r\n")
        return [code for code, _ in found]

    def last_text(self) -> bytes:
        return self.buf

    def hung_up(self, limit: float = 10) -> bool:
        """Whether the server closes the connection (reading what is left)."""
        self.sock.settimeout(limit)
        try:
            while chunk := self.sock.recv(65536):
                self.buf += chunk
        except (TimeoutError, OSError):
            return self.closed
        return True

    def close(self) -> None:
        self.sock.close()


def envelope(wire: Wire, sender: str = "carla@cliente.com.br") -> None:
    wire.send(f"EHLO mta.test\r\nMAIL FROM:<{sender}>\r\nRCPT TO:<{SUPPORT}>\r\n".encode())
    assert wire.replies(3) == [b"250", b"250", b"250"]


def rss_kb(pid: int) -> int:
    """The RSS of pid and its children (the batch path's worker processes)."""
    total = 0
    for p in [pid, *ledger.children(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total


class Probe:
    """A normal sender: one mail, the time from connect to its 250."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.n = 0

    def send(self) -> float:
        self.n += 1
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as client:
            client.ehlo("probe.test")
            raw = make_mail(subject=f"Probe {self.n}", sender=f"probe{self.n}@cliente.com.br")
            refused = client.sendmail(f"probe{self.n}@cliente.com.br", [SUPPORT], raw)
        assert refused == {}
        took = time.monotonic() - started
        self.latencies.append(took)
        return took


SMUGGLE_ENDS = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r.\n"]


def smuggling(port: int) -> dict[str, Any]:
    """Each bare end-of-data variant: one mail, never a second smuggled one."""
    before = InboundMessage.objects.count()
    for n, end in enumerate(SMUGGLE_ENDS):
        wire = Wire(port)
        envelope(wire)
        wire.send(b"DATA\r\n")
        assert wire.replies(1) == [b"354"]
        wire.send(
            b"From: carla@cliente.com.br\r\nTo: support@example.com\r\n"
            + f"Subject: one {n}\r\nMessage-ID: <smuggle{n}@cliente.com.br>\r\n\r\n".encode()
            + b"first"
            + end
            + b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"
            + b"From: ceo@example.com\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n"
        )
        codes = wire.replies(1)
        wire.send(b"QUIT\r\n")
        codes += wire.replies(1)
        assert codes == [b"250", b"221"], (end, codes, wire.last_text())
        wire.close()
    stored = list(InboundMessage.objects.order_by("id")[before:])
    assert len(stored) == len(SMUGGLE_ENDS)
    assert not any(m.subject == "smuggled" for m in stored)
    return {"variants": len(SMUGGLE_ENDS), "messages": len(stored), "smuggled": 0}


def starttls_injection(port: int) -> dict[str, Any]:
    """Commands sent in clear behind STARTTLS (in the same packet) are dropped."""
    wire = Wire(port)
    wire.send(b"EHLO mta.test\r\n")
    assert wire.replies(1) == [b"250"]
    wire.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<support@example.com>\r\n")
    assert wire.replies(1) == [b"220"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    wire.sock = context.wrap_socket(wire.sock, server_hostname="mx.example.com")
    wire.buf = b""
    # Had the injected MAIL run, this RCPT would be taken and DATA invited.
    wire.send(b"EHLO mta.test\r\nRCPT TO:<support@example.com>\r\n")
    codes = wire.replies(2)
    assert codes == [b"250", b"503"], codes
    wire.send(b"MAIL FROM:<carla@cliente.com.br>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
    assert wire.replies(3) == [b"250", b"250", b"354"]
    wire.send(crlf(make_mail(subject="Over TLS")) + b".\r\nQUIT\r\n")
    assert wire.replies(2) == [b"250", b"221"]
    wire.close()
    sender = InboundMessage.objects.filter(subject="Over TLS").values_list(
        "envelope_from", flat=True
    )
    assert list(sender) == ["carla@cliente.com.br"]
    return {"injected_commands_run": 0}


def long_lines(port: int) -> dict[str, Any]:
    """600-byte, 1,002-byte, 70 KB and 1 MB command lines: 500 and the
    session goes on; a 70 KB data line: 500 after the data."""
    wire = Wire(port)
    wire.send(b"EHLO mta.test\r\n")
    assert wire.replies(1) == [b"250"]
    answers: dict[str, bytes] = {}
    for name, size in (("600 B", 600), ("1,002 B", 1002), ("70 KB", 70_000), ("1 MB", 1 << 20)):
        local = "a" * (size - len("MAIL FROM:<@cliente.com.br>\r\n"))
        wire.send(f"MAIL FROM:<{local}@cliente.com.br>\r\n".encode())
        answers[name] = b"".join(wire.replies(1))
    wire.send(b"NOOP " + b"x" * 590 + b"\r\n")
    answers["600 B NOOP"] = b"".join(wire.replies(1))
    assert set(answers.values()) == {b"500"}, answers
    # The session is still usable, and a long data line is refused after the data.
    wire.send(b"MAIL FROM:<carla@cliente.com.br>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
    assert wire.replies(3) == [b"250", b"250", b"354"]
    wire.send(b"Subject: long\r\n\r\n" + b"y" * 70_000 + b"\r\n.\r\n")
    data_line = wire.replies(1)
    assert data_line == [b"500"], data_line
    wire.send(b"QUIT\r\n")
    assert wire.replies(1) == [b"221"]
    wire.close()
    return {"command_lines": {k: v.decode() for k, v in answers.items()}, "data_line_70KB": "500"}


def many_recipients(port: int) -> dict[str, Any]:
    """A mail to 150 of our addresses: the first 100 taken, the rest 452
    (RFC 5321 4.5.3.1.8), and the mail itself delivered."""
    wire = Wire(port)
    wire.send(b"EHLO mta.test\r\nMAIL FROM:<carla@cliente.com.br>\r\n")
    assert wire.replies(2) == [b"250", b"250"]
    wire.send(b"".join(f"RCPT TO:<support+{i}@example.com>\r\n".encode() for i in range(150)))
    codes = Counter(wire.replies(150))
    wire.send(b"DATA\r\n")
    data = wire.replies(1)
    if data == [b"354"]:
        wire.send(crlf(make_mail(subject="Muitos destinatários")) + b".\r\n")
        data += wire.replies(1)
    wire.close()
    figures = {
        "rcpt_250": codes[b"250"],
        "rcpt_452": codes[b"452"],
        "data": [c.decode() for c in data],
    }
    assert codes == Counter({b"250": 100, b"452": 50}), figures
    assert data == [b"354", b"250"], figures
    return figures


def call_limits(port: int, rcpts: int, noops: int) -> dict[str, Any]:
    """1,000 RCPT, 10,000 NOOP and unknown verbs, pipelined: refused, then
    the session is closed once its budget is spent."""
    out: dict[str, Any] = {}
    wire = Wire(port)
    wire.send(b"EHLO mta.test\r\nMAIL FROM:<carla@cliente.com.br>\r\n")
    assert wire.replies(2) == [b"250", b"250"]
    wire.send(b"".join(f"RCPT TO:<support+{i}@example.com>\r\n".encode() for i in range(rcpts)))
    codes = Counter(wire.replies(rcpts))
    out["rcpt"] = {k.decode(): v for k, v in codes.items()} | {
        "sent": rcpts,
        "closed": wire.hung_up(),
    }
    assert codes[b"250"] <= 100 and codes[b"421"] == 1 and out["rcpt"]["closed"], out
    wire.close()

    wire = Wire(port)
    wire.send(b"EHLO mta.test\r\n" + b"NOOP\r\n" * noops)
    codes = Counter(wire.replies(noops + 1))
    out["noop"] = {k.decode(): v for k, v in codes.items()} | {
        "sent": noops,
        "closed": wire.hung_up(),
    }
    assert codes[b"250"] <= 20 and out["noop"]["closed"], out
    if noops * len(b"NOOP\r\n") <= 60_000:
        # Past the socket buffers the listener closes with our NOOPs unread,
        # which is a TCP reset: its 421 may be lost to it (the heavy run).
        assert codes[b"421"] == 1, out
    wire.close()

    wire = Wire(port)
    verbs = [b"XYZZY", b"WIZ", b"DEBUG", b"KILL", b"SHELL", b"EXPN2"]
    wire.send(b"EHLO mta.test\r\n" + b"".join(v + b" now\r\n" for v in verbs))
    codes = Counter(wire.replies(len(verbs) + 1))
    out["unknown_verbs"] = {k.decode(): v for k, v in codes.items()} | {"closed": wire.hung_up()}
    assert codes[b"500"] >= 1 and codes[b"502"] == 1 and out["unknown_verbs"]["closed"], out
    wire.close()
    return out


def too_big(port: int, limit_mb: int) -> dict[str, Any]:
    """Past HELPDESK_MAX_MESSAGE_MB: 552 at MAIL when SIZE says so, else 552
    after the data; the session goes on either way."""
    wire = Wire(port)
    too_much = (limit_mb + 1) << 20
    wire.send(f"EHLO mta.test\r\nMAIL FROM:<carla@cliente.com.br> SIZE={too_much}\r\n".encode())
    at_mail = wire.replies(2)
    opening = b"MAIL FROM:<carla@cliente.com.br>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"
    wire.send(opening)
    assert wire.replies(3) == [b"250", b"250", b"354"]
    line = b"z" * 998 + b"\r\n"
    wire.send(b"Subject: big\r\n\r\n" + line * (too_much // len(line)) + b".\r\n")
    after_data = wire.replies(1)
    wire.send(b"NOOP\r\nQUIT\r\n")
    after = wire.replies(2)
    wire.close()
    assert at_mail == [b"250", b"552"] and after_data == [b"552"], (at_mail, after_data)
    assert after == [b"250", b"221"]
    return {"size_at_mail": "552", "after_data": "552", "bytes_sent": too_much}


def parallel_big_data(
    port: int, sessions: int, limit_mb: int, rss: Callable[[], int]
) -> dict[str, Any]:
    """sessions clients each send a message just under the size limit and
    stop before its end: past what all sessions may hold together (8
    messages of the size limit) the listener answers 421 and hangs up."""
    before = rss()
    chunk = (b"z" * 998 + b"\r\n") * 1024  # 1 MB of lines
    wires = []
    for _ in range(sessions):
        wire = Wire(port)
        envelope(wire)
        wire.send(b"DATA\r\n")
        assert wire.replies(1) == [b"354"]
        wires.append(wire)
    for _ in range(limit_mb - 1):
        for wire in wires:
            wire.send(chunk)
    time.sleep(1)
    held = rss()
    told: Counter[str] = Counter()
    for wire in wires:
        wire.sock.settimeout(0.5)
        try:
            told[wire.sock.recv(4096)[:3].decode() or "closed"] += 1
        except TimeoutError:
            told["still reading"] += 1
        except OSError:
            told["closed"] += 1
        wire.close()
    figures = {
        "sessions": sessions,
        "mb_each": limit_mb - 1,
        "answers": dict(told),
        "rss_before_mb": before // 1024,
        "rss_held_mb": held // 1024,
    }
    assert told["421"] >= 1 and told["still reading"] >= 1, figures
    assert held - before < 8 * limit_mb * 1024 * 1.5, figures  # the budget, and slack
    return figures


def huge_headers(port: int) -> dict[str, Any]:
    """5 MB of headers (50,000 of them): stored one way or another, answered."""
    head = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"h" * 90) for i in range(50_000))
    raw = head + crlf(make_mail(subject="Cabeçalhos enormes"))
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.ehlo("mta.test")
        refused = client.sendmail("carla@cliente.com.br", [SUPPORT], raw)
    assert refused == {}
    row = InboundMessage.objects.order_by("-id").first()
    assert row is not None and row.size == len(raw)
    return {"header_bytes": len(head), "outcome": row.outcome, "reason": row.error[:60]}


def slow_clients(port: int, idle: int, drip_seconds: int, probe: Probe) -> dict[str, Any]:
    """idle connections held after EHLO (40 from each of several hosts), one
    host opening more than its 50, and a slowloris in DATA, while the probe
    delivers; then the slowloris finishes and is taken too."""
    held = []
    for n in range(idle):
        wire = Wire(port, source=f"127.0.1.{n // 40 + 1}")
        wire.send(b"EHLO idle.test\r\n")
        held.append(wire)
    assert all(w.greeting == [b"220"] and w.replies(1) == [b"250"] for w in held)
    greedy = [Wire(port, source="127.0.2.1") for _ in range(55)]
    greetings = Counter(b"".join(w.greeting).decode() for w in greedy)
    assert greetings == Counter({"220": 50, "421": 5}), greetings
    slow = Wire(port)
    envelope(slow, "slow@cliente.com.br")
    slow.send(b"DATA\r\n")
    assert slow.replies(1) == [b"354"]
    body = crlf(make_mail(subject="Devagar", sender="slow@cliente.com.br")) + b".\r\n"
    stop = threading.Event()

    def drip() -> None:
        for i, byte in enumerate(body[:-5]):
            if stop.wait(1 if i < drip_seconds else 0):
                return
            slow.send(bytes([byte]))

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    during = [probe.send() for _ in range(3)]
    dripper.join(timeout=drip_seconds + 60)
    slow.send(body[-5:])
    slow_reply = slow.replies(1)
    stop.set()
    for wire in held + greedy:
        wire.close()
    slow.close()
    assert slow_reply == [b"250"], slow_reply
    return {
        "idle_connections": idle,
        "one_host_55_connections": dict(greetings),
        "slowloris_seconds": drip_seconds,
        "probe_s": [round(s, 3) for s in during],
    }


FD_LIMIT = 1024


def probe_once(probe: Probe) -> str:
    """ "" when the normal sender got its 250, else what went wrong."""
    try:
        probe.send()
    except (AssertionError, OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return ""


def flood(port: int, connections: int, probe: Probe) -> dict[str, Any]:
    """One host opens more connections than the listener has descriptors
    and keeps them; another host then delivers a mail."""
    greetings: Counter[str] = Counter()
    held = []
    failures = 0
    for _ in range(connections):
        try:
            wire = Wire(port, timeout=5, source="127.0.3.1")
            greetings[b"".join(wire.greeting).decode() or "closed"] += 1
            held.append(wire)
        except OSError as exc:
            greetings[type(exc).__name__] += 1
            failures += 1
            if failures >= 10:
                break  # the listener takes no more: enough said
    try:
        other_host = probe_once(probe) or "250"
    finally:
        for wire in held:
            wire.close()
    figures = {"connections": connections, "greetings": dict(greetings), "other_host": other_host}
    assert greetings == Counter({"220": 50, "421": connections - 50}), figures
    assert other_host == "250", figures
    return figures


def test_the_listener_survives_protocol_abuse_and_keeps_serving(
    tmp_path: Path,
    child_env: dict[str, str],  # noqa: F811
    scale: Any,
    figures: Any,
) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    limit_mb = 8
    env = {
        **child_env,
        "HELPDESK_SMTP_TLS_CERT": str(cert),
        "HELPDESK_SMTP_TLS_KEY": str(key),
        "HELPDESK_MAX_MESSAGE_MB": str(limit_mb),
    }
    port = ledger.free_port()
    log = tmp_path / "smtpd.log"
    # The listener gets systemd's default of 1,024 descriptors (the child
    # inherits the limit in force when it is started).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(FD_LIMIT, hard), hard))
    try:
        listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port), log=log)
    finally:
        # This process holds some 1,300 sockets at once (the flood, the idle
        # clients): more than a soft limit of 1,024 where a CI runner has one.
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    ledger.wait_for_port(port, listener)
    probe = Probe(port)
    rss: list[int] = []
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    probes: list[str] = []  # "" for each probe that got its 250
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            rss.append(rss_kb(listener.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        probe.send()
        rss.append(rss_kb(listener.pid))
        start_rss = rss[-1]
        sampler.start()
        steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("smuggling", lambda: smuggling(port)),
            ("starttls", lambda: starttls_injection(port)),
            ("long_lines", lambda: long_lines(port)),
            ("many_recipients", lambda: many_recipients(port)),
            ("call_limits", lambda: call_limits(port, 1000, scale(10_000, 100_000))),
            ("too_big", lambda: too_big(port, limit_mb)),
            ("huge_headers", lambda: huge_headers(port)),
            (
                "parallel_big_data",
                lambda: parallel_big_data(
                    port, scale(10, 40), limit_mb, lambda: rss_kb(listener.pid)
                ),
            ),
            ("slow_clients", lambda: slow_clients(port, scale(120, 800), scale(5, 60), probe)),
            ("one_host_floods", lambda: flood(port, FD_LIMIT + 76, probe)),
        ]
        for name, step in steps:
            # Each step on its own: one that fails is recorded and the others
            # still run (the figures of a run before a fix show them all).
            try:
                results[name] = step()
            except (AssertionError, OSError, smtplib.SMTPException) as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"[:400]
            probes.append(probe_once(probe))  # after each: a normal sender gets its 250
            assert listener.poll() is None, log.read_text()[-3000:]
    finally:
        sampling.set()
        alive = listener.poll() is None
        ledger.kill_group(listener)
    figures(
        {
            **results,
            "failed": failed,
            "probes_failed": len([p for p in probes if p]),
            "listener_alive": alive,
            "rss_start_mb": round(start_rss / 1024),
            "rss_peak_mb": round(max(rss) / 1024),
            "probe_mails": probe.n,
            "probe_max_s": round(max(probe.latencies, default=0), 3),
        }
    )
    assert not failed, failed
    assert not any(probes), probes
    assert alive
    assert max(rss) < 600 * 1024  # bounded: the mails here total some 10 MB

#!/usr/bin/env python3
"""Several machines on one: two of each process against shared PostgreSQL and Redis.

Run on demand from the repository root (heavy), or light from the test suite
(tests/helpdesk/test_cluster.py):

    .venv/bin/python bench/cluster.py                        # 1,000 mails, 20 senders
    .venv/bin/python bench/cluster.py --mails 200 --web-users 4

The topology: two "hosts" (each a data dir of its own, so nothing is shared
through the disk), each running a gunicorn web server, an SMTP listener
(`manage.py smtpd`) and a worker (`manage.py db_worker`), all against one
fresh PostgreSQL database (`<name>_cluster_<pid>`, dropped at the end) and one
Redis (REDIS_URL, the cache). HELPDESK_S3_* in the environment are passed on,
so the same run covers an object store too. Notifications go to an SMTP
capture server in this process, which counts every Message-ID it receives.

1. Migrate, create an agent, start the six processes, wait for /healthz.
2. Load: C sender threads deliver N mails (each a new ticket from one of 20
   customers) to the two listeners in turn, retrying like an MTA until they
   read 250; meanwhile W web users (the agent, logged in) browse the ticket
   list and tickets on both web servers.
3. Wait until every mail is processed and the outbox is empty.
4. Check: every accepted mail stored once (0 lost, 0 duplicated tickets),
   every outbox mail delivered exactly once (by Message-ID at the capture
   server), no web error; both workers alive in /healthz.

Prints the figures as JSON and exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = "support@cluster.test"
AGENT = "agent@cluster.test"
PASSWORD = "cluster-pass-8472"
SECRET_KEY = "cluster-secret-key-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- capture


class Capture:
    """An SMTP server standing in for the relay: counts what the workers send."""

    def __init__(self) -> None:
        self.message_ids: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)", envelope.content or b"")
        with self.lock:
            self.message_ids[match.group(1).decode().strip("<>") if match else "?"] += 1
        return "250 OK"


# ---------------------------------------------------------------- database


def _server_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts._replace(path="/postgres").geturl(), parts.path.lstrip("/") or "test"


@contextmanager
def fresh_database(url: str) -> Any:
    admin, name = _server_url(url)
    db = f"{name}_cluster_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield urllib.parse.urlsplit(url)._replace(path=f"/{db}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# ---------------------------------------------------------------- processes


@dataclass
class Host:
    name: str
    env: dict[str, str]
    web_port: int
    smtp_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def _start(host: Host, args: list[str], log: Path) -> None:
    out = log.open("ab")
    host.procs.append(
        subprocess.Popen(args, cwd=ROOT, env=host.env, stdout=out, stderr=subprocess.STDOUT)
    )


def start_host(host: Host, workdir: Path, web_workers: int) -> None:
    log = workdir / f"{host.name}.log"
    bin_dir = Path(sys.executable).parent
    _start(
        host,
        [
            str(bin_dir / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{host.web_port}",
            "-w",
            str(web_workers),
            "--timeout",
            "60",
        ],
        log,
    )
    _start(
        host,
        [
            sys.executable,
            "manage.py",
            "smtpd",
            "--host",
            "127.0.0.1",
            "--port",
            str(host.smtp_port),
        ],
        log,
    )
    _start(host, [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "-v0"], log)


def stop_host(host: Host) -> None:
    for proc in host.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in host.procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.2)


def _get(url: str, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, bytes]:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ---------------------------------------------------------------- load


def make_mail(i: int, run: str) -> tuple[str, bytes]:
    msg = EmailMessage()
    sender = f"cliente{i % 20}@clientes.test"
    msg["From"] = f"Cliente {i % 20} <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"Pedido {run}-{i}: a impressora parou"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"{run}.{i}", domain="clientes.test")
    msg.set_content(f"Olá, a impressora do andar {i % 7} parou de novo.\n\nCliente {i % 20}")
    if i % 5 == 0:  # an attachment now and then: files go where attachments go
        msg.add_attachment(
            b"%PDF-1.4 " + bytes(str(i), "ascii") * 500,
            maintype="application",
            subtype="pdf",
            filename=f"nota-{i}.pdf",
        )
    return sender, msg.as_bytes()


def send_until_accepted(port: int, sender: str, raw: bytes, attempts: int = 30) -> float:
    """Deliver like an MTA: retry on any failure until 250; the accept latency."""
    for attempt in range(attempts):
        started = time.monotonic()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.sendmail(sender, [SUPPORT], raw)
            return time.monotonic() - started
        except (smtplib.SMTPException, OSError):
            time.sleep(min(2.0, 0.2 * (attempt + 1)))
    raise RuntimeError("a mail was never accepted")


def _login(base: str) -> urllib.request.OpenerDirector:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, page = _get(f"{base}/accounts/login/", opener)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise RuntimeError(f"no login form at {base} ({status})")
    data = urllib.parse.urlencode(
        {"username": AGENT, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request, timeout=30) as response:
        if "/accounts/login/" in response.geturl():
            raise RuntimeError("the agent could not log in")
    return opener


def browse(
    bases: list[str], ready: threading.Barrier, stop: threading.Event, out: dict[str, list[Any]]
) -> None:
    try:
        _browse(bases, ready, stop, out)
    except Exception as exc:  # a thread's exception would vanish: count it
        out["errors"].append(f"{type(exc).__name__}: {exc}")
        ready.abort()


def _browse(
    bases: list[str], ready: threading.Barrier, stop: threading.Event, out: dict[str, list[Any]]
) -> None:
    openers = [_login(base) for base in bases]
    ready.wait()  # logged in on both: the mail load starts now
    turn = 0
    # Until the mail settles, and at least one round on each web server.
    while not stop.is_set() or turn < 2 * len(bases):
        base, opener = bases[turn % len(bases)], openers[turn % len(bases)]
        turn += 1
        started = time.monotonic()
        status, page = _get(f"{base}/tickets/", opener)
        out["list"].append(time.monotonic() - started)
        refs = re.findall(rb"/tickets/(HD-\d{4}-\d{4,})/", page)
        if status != 200:
            out["errors"].append(f"/tickets/ {status}")
        if refs:
            ref = random.choice(refs).decode()
            started = time.monotonic()
            status, _page = _get(f"{base}/tickets/{ref}/", opener)
            out["detail"].append(time.monotonic() - started)
            if status != 200:
                out["errors"].append(f"/tickets/{ref}/ {status}")


# ---------------------------------------------------------------- the run


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _drained(url: str, mails: int) -> tuple[bool, dict[str, int]]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT"
            " (SELECT count(*) FROM mailgateway_inboundmessage WHERE outcome <> 'pending'),"
            " (SELECT count(*) FROM mailgateway_inboundmessage WHERE outcome = 'pending'),"
            " (SELECT count(*) FROM outbound_outboxitem WHERE status IN ('pending', 'sending'))"
        ).fetchone()
    assert row is not None
    done, pending, outbox = (int(v) for v in row)
    return done >= mails and pending == 0 and outbox == 0, {
        "processed": done,
        "pending": pending,
        "outbox_waiting": outbox,
    }


def run(
    *,
    database_url: str,
    redis_url: str,
    mails: int,
    senders: int,
    web_users: int,
    web_workers: int = 2,
    timeout: float = 600,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """extra_env: more settings for every process (an object store's HELPDESK_S3_*)."""
    run_id = f"{os.getpid()}x{int(time.time())}"
    capture = Capture()
    controller = Controller(capture, hostname="127.0.0.1", port=free_port())
    controller.start()
    with ExitStack() as stack:
        stack.callback(controller.stop)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-")))
        url = stack.enter_context(fresh_database(database_url))
        passed = {k: v for k, v in os.environ.items() if k.startswith(("HELPDESK_S3", "AWS_"))}
        common = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            **passed,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HELPDESK_SUPPORT_ADDRESS": SUPPORT,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(controller.port),
            "HELPDESK_NOTIFY_MAX_PER_HOUR": "0",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        hosts = [
            Host(
                name,
                {**common, "HELPDESK_DATA_DIR": str(workdir / name)},
                web_port=free_port(),
                smtp_port=free_port(),
            )
            for name in ("host-a", "host-b")
        ]
        _manage(hosts[0].env, "migrate", "--no-input")
        _manage(
            hosts[0].env,
            "shell",
            "-c",
            "from helpdesk.accounts import user_create; "
            f"user_create(email='{AGENT}', full_name='Ana Agente', role='agent', "
            f"password='{PASSWORD}')",
        )
        for host in hosts:
            stack.callback(stop_host, host)
            start_host(host, workdir, web_workers)
        for host in hosts:
            _wait_port(host.web_port)
            _wait_port(host.smtp_port)
        bases = [f"http://127.0.0.1:{h.web_port}" for h in hosts]

        stop_browsing = threading.Event()
        web: dict[str, list[Any]] = {"list": [], "detail": [], "errors": []}
        ready = threading.Barrier(web_users + 1, timeout=120)
        browsers = [
            threading.Thread(target=browse, args=(bases, ready, stop_browsing, web), daemon=True)
            for _ in range(web_users)
        ]
        for thread in browsers:
            thread.start()
        # A browser that could not log in breaks the barrier: counted in web errors.
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait()

        latencies: list[float] = []
        next_mail = iter(range(mails))
        lock = threading.Lock()

        def sender() -> None:
            while True:
                with lock:
                    i = next(next_mail, None)
                if i is None:
                    return
                address, raw = make_mail(i, run_id)
                port = hosts[i % 2].smtp_port
                latency = send_until_accepted(port, address, raw)
                with lock:
                    latencies.append(latency)

        started = time.monotonic()
        threads = [threading.Thread(target=sender) for _ in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accepted_in = time.monotonic() - started

        deadline = time.monotonic() + timeout
        while True:
            drained, progress = _drained(url, mails)
            if drained or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        settled_in = time.monotonic() - started
        stop_browsing.set()
        for thread in browsers:
            thread.join(timeout=60)
        _status, health = _get(f"{bases[0]}/healthz")

        with psycopg.connect(url) as conn:
            tickets = conn.execute(
                "SELECT count(*), count(DISTINCT subject) FROM tickets_ticket"
            ).fetchone()
            stored = conn.execute(
                "SELECT count(*), count(DISTINCT message_id) FROM mailgateway_inboundmessage"
                " WHERE outcome = 'created'"
            ).fetchone()
            outbox = conn.execute(
                "SELECT message_id FROM outbound_outboxitem"
                " WHERE kind = 'email' AND status = 'sent'"
            ).fetchall()
            failed = conn.execute(
                "SELECT count(*) FROM outbound_outboxitem WHERE status = 'failed'"
            ).fetchone()
        assert tickets is not None and stored is not None and failed is not None
        sent_ids = [r[0] for r in outbox]
        received = capture.message_ids
        workers_alive = json.loads(health)["checks"]["worker"]["alive"]
        figures = {
            "mails": mails,
            "senders": senders,
            "web_users": web_users,
            "accepted": len(latencies),
            "accepted_per_second": round(len(latencies) / accepted_in, 1),
            "accept_p50_ms": round(_pct(latencies, 0.5)),
            "accept_p99_ms": round(_pct(latencies, 0.99)),
            "all_settled_seconds": round(settled_in, 1),
            "tickets": int(tickets[0]),
            "lost": mails - int(stored[1]),
            "duplicated_tickets": int(tickets[0]) - int(tickets[1]),
            "notifications_sent": len(sent_ids),
            "notifications_received": sum(received[m] for m in sent_ids),
            "notifications_missing": sum(1 for m in sent_ids if received[m] == 0),
            "notifications_duplicated": sum(received[m] - 1 for m in sent_ids if received[m] > 1),
            "outbox_failed": int(failed[0]),
            "web_requests": len(web["list"]) + len(web["detail"]),
            "web_list_p50_ms": round(_pct(web["list"], 0.5)),
            "web_list_p99_ms": round(_pct(web["list"], 0.99)),
            "web_detail_p50_ms": round(_pct(web["detail"], 0.5)),
            "web_detail_p99_ms": round(_pct(web["detail"], 0.99)),
            "web_errors": len(web["errors"]),
            "web_error_samples": web["errors"][:5],
            "workers_alive": workers_alive,
            "drained": drained,
            **progress,
        }
        figures["ok"] = (
            drained
            and figures["lost"] == 0
            and figures["duplicated_tickets"] == 0
            and figures["tickets"] == mails
            and figures["notifications_missing"] == 0
            and figures["notifications_duplicated"] == 0
            and figures["outbox_failed"] == 0
            and figures["web_errors"] == 0
            and workers_alive == 2
        )
        if not figures["ok"]:
            for host in hosts:
                tail = (workdir / f"{host.name}.log").read_text(errors="replace")[-3000:]
                figures[f"{host.name}_log_tail"] = tail
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--web-users", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per host")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server; a fresh database is made on it and dropped",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    figures = run(
        database_url=args.database_url,
        redis_url=args.redis_url,
        mails=args.mails,
        senders=args.senders,
        web_users=args.web_users,
        web_workers=args.web_workers,
    )
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()

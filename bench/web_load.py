#!/usr/bin/env python3
"""L4: the web under load, against gunicorn, on SQLite and on PostgreSQL.

Run on demand from the repository root (never in CI):

    .venv/bin/python bench/web_load.py                        # SQLite, 20 users, 60 s
    .venv/bin/python bench/web_load.py --database-url postgres://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/web_load.py --users 10 --seconds 30 --tickets 2000

1. A fresh install: a temporary data dir (SQLite) or a fresh database on the
   given PostgreSQL server (`<name>_webload_<pid>`, dropped at the end);
   migrate, `seed_demo`, then T tickets with a few replies each from 50
   customers (through the services, as the mail gateway would).
2. gunicorn (config.wsgi, --workers W) on a free port; the embedded default's
   worker (`db_worker`) beside it, so notifications are written and sent
   while the web writes too (the file mail backend: nothing leaves the box).
3. U users, each an agent logged in, for S seconds: the ticket list, a search,
   a ticket page, and one reply in five loops (a POST with its CSRF token,
   which writes the message, the events and the outbox rows).
4. Prints requests, errors (any 5xx or failed request), p50/p99 per page, and
   how many times "database is locked" appeared in the server's log.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "load-pass-5519"
AGENTS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SEED = f"""
import random
from helpdesk.accounts import user_create
from tickets import services
from tickets.models import Category
random.seed(7)
agents = [user_create(email=f"agente{{i}}@load.test", full_name=f"Agente {{i}}", role="agent",
                      password="{PASSWORD}") for i in range({AGENTS})]
customers = [user_create(email=f"cliente{{i}}@clientes.test", full_name=f"Cliente {{i}}")
             for i in range(50)]
category = Category.objects.first()
words = "impressora rede senha boleto fatura acesso lentidão erro sistema relatório".split()
for n in range(TICKETS):
    who = random.choice(customers)
    t = services.ticket_create(requester=who, category=category,
        subject=f"{{random.choice(words).title()}} {{random.choice(words)}} #{{n}}",
        body=" ".join(random.choices(words, k=40)))
    for k in range(random.randint(0, 3)):
        services.ticket_reply_add(ticket=t, author=random.choice(agents if k % 2 == 0 else [who]),
                                  body=" ".join(random.choices(words, k=25)))
"""


def _get(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, bytes]:
    try:
        with opener.open(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str], referer: str
) -> int:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(data).encode(), headers={"Referer": referer}
    )
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _token(page: bytes) -> str:
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    return found.group(1).decode() if found else ""


class User(threading.Thread):
    def __init__(
        self, base: str, email: str, ready: threading.Barrier, out: dict[str, Any]
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.email, self.ready, self.out = base, email, ready, out
        self.rnd = random.Random(email)

    def timed(self, page: str, call: Any) -> Any:
        started = time.monotonic()
        result = call()
        took = time.monotonic() - started
        status = result[0] if isinstance(result, tuple) else result
        with self.out["lock"]:
            self.out["times"].setdefault(page, []).append(took)
            if status >= 500 or status == 0:
                self.out["errors"].append(f"{page} {status}")
        return result

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            with self.out["lock"]:
                self.out["errors"].append(f"{type(exc).__name__}: {exc}")
            self.ready.abort()

    def _run(self) -> None:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login = f"{self.base}/accounts/login/"
        _status, page = _get(opener, login)
        status = _post(
            opener,
            login,
            {"username": self.email, "password": PASSWORD, "csrfmiddlewaretoken": _token(page)},
            login,
        )
        if status >= 400:
            raise RuntimeError(f"login {status}")
        self.ready.wait()  # everyone logged in: the clock starts
        until = self.out["until"]
        loops = 0
        while time.monotonic() < until:
            loops += 1
            _s, listing = self.timed("list", lambda: _get(opener, f"{self.base}/tickets/"))
            word = self.rnd.choice(["impressora", "boleto", "senha", "rede", "fatura"])
            self.timed("search", lambda w=word: _get(opener, f"{self.base}/tickets/?q={w}"))
            refs = re.findall(rb"/tickets/(HD-\d{4}-\d{4,})/", listing)
            if not refs:
                continue
            ref = self.rnd.choice(refs).decode()
            url = f"{self.base}/tickets/{ref}/"
            _s, detail = self.timed("ticket", lambda u=url: _get(opener, u))
            if loops % 5 == 0:
                data = {"body": f"Resposta de carga {loops}", "csrfmiddlewaretoken": _token(detail)}
                self.timed("reply", lambda u=url, d=data: _post(opener, u + "reply/", d, u))


def _pct(values: list[float], q: float) -> int:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000) if values else 0


def run(
    *, database_url: str | None, users: int, seconds: float, tickets: int, workers: int
) -> dict[str, Any]:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="webload-")))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "HELPDESK_DATA_DIR": str(workdir / "data"),
            "SECRET_KEY": "webload-" + "k" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "HELPDESK_NOTIFY_MAX_PER_HOUR": "0",
        }
        if database_url:
            import psycopg

            parts = urllib.parse.urlsplit(database_url)
            admin = parts._replace(path="/postgres").geturl()
            name = f"{parts.path.lstrip('/') or 'test'}_webload_{os.getpid()}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')

            def drop() -> None:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            stack.callback(drop)
            env["DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()

        def manage(*args: str) -> None:
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )

        manage("migrate", "--no-input")
        manage("seed_demo")
        manage("shell", "-c", SEED.replace("TICKETS", str(tickets)))
        port = free_port()
        log = (workdir / "server.log").open("wb")
        gunicorn = Path(sys.executable).parent / "gunicorn"
        procs = [
            subprocess.Popen(
                [str(gunicorn), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "-v0"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
        ]

        def stop() -> None:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)

        stack.callback(stop)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        out: dict[str, Any] = {"lock": threading.Lock(), "times": {}, "errors": []}
        # The users log in first; the clock starts when all have.
        ready = threading.Barrier(
            users + 1, action=lambda: out.update(until=time.monotonic() + seconds)
        )
        crowd = [
            User(f"http://127.0.0.1:{port}", f"agente{i % AGENTS}@load.test", ready, out)
            for i in range(users)
        ]
        for user in crowd:
            user.start()
        ready.wait(timeout=300)
        for user in crowd:
            user.join(timeout=seconds + 120)
        log.flush()
        locked = (workdir / "server.log").read_text(errors="replace").count("database is locked")
        times: dict[str, list[float]] = out["times"]
        return {
            "database": "postgresql" if database_url else "sqlite",
            "users": users,
            "seconds": seconds,
            "tickets": tickets,
            "gunicorn_workers": workers,
            "requests": sum(len(v) for v in times.values()),
            "requests_per_second": round(sum(len(v) for v in times.values()) / seconds, 1),
            "errors": len(out["errors"]),
            "error_samples": out["errors"][:5],
            "database_is_locked": locked,
            "pages": {
                page: {"n": len(v), "p50_ms": _pct(v, 0.5), "p99_ms": _pct(v, 0.99)}
                for page, v in sorted(times.items())
            },
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default SQLite)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()
    figures = run(
        database_url=args.database_url,
        users=args.users,
        seconds=args.seconds,
        tickets=args.tickets,
        workers=args.workers,
    )
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["errors"] == 0 and figures["database_is_locked"] == 0 else 1)


if __name__ == "__main__":
    main()

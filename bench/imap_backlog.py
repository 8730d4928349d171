#!/usr/bin/env python3
"""L3: an IMAP backlog, polled once: every mail exactly once, memory flat.

Run on demand from the repository root (never in CI; needs Dovecot, as
`make test-deps` installs):

    .venv/bin/python bench/imap_backlog.py                 # 10,000 mails
    .venv/bin/python bench/imap_backlog.py --mails 2000

1. Starts a throwaway Dovecot on a free loopback port (tests/mailgateway/dovecot.py)
   and appends N mails to a user's INBOX, each a new request from its own sender.
2. On a fresh SQLite data dir (migrated before the clock starts), runs
   `manage.py poll_imap --once` with HELPDESK_IMAP_URL pointing at that INBOX
   (move to Processed), sampling the poller's RSS, and its worker processes',
   from /proc twice a second.
3. Counts: stored rows (first deliveries and duplicates), tickets, what is left
   in INBOX and what reached Processed.

Prints mails/second, RSS of the poller at 25 %, 50 % and 100 % of the run (a
leak shows as growth between them) and its peak, and the counts; exits
non-zero when any mail is missing or doubled.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 1e6
    except OSError:
        return 0.0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def run(mails: int) -> dict[str, Any]:
    from tests.mailgateway.dovecot import OAuthServer, start_dovecot, stop_dovecot
    from tests.mailgateway.imap_helpers import mail

    oauth = OAuthServer()
    oauth_http = oauth.start()
    dovecot = start_dovecot(oauth)
    try:
        user, password = dovecot.add_user()
        from imapclient import IMAPClient

        started = time.monotonic()
        with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=60) as client:
            client.login(user, password)
            for i in range(mails):
                client.append("INBOX", mail(i, tag="backlog"))
        appended_in = time.monotonic() - started

        with tempfile.TemporaryDirectory(prefix="imap-backlog-") as data:
            env = {
                "PATH": os.environ["PATH"],
                "HOME": os.environ.get("HOME", "/tmp"),
                "HELPDESK_DATA_DIR": data,
                "LOG_LEVEL": "WARNING",
                "HELPDESK_IMAP_URL": (
                    f"imap://{user}:{password}@{dovecot.host}:{dovecot.port}/INBOX"
                    "?security=none&action=move&move_to=Processed"
                ),
            }
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
            samples: list[tuple[float, float, float]] = []
            started = time.monotonic()
            poller = subprocess.Popen(
                [sys.executable, "manage.py", "poll_imap", "--once"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

            def sample() -> None:
                while poller.poll() is None:
                    own = _rss_mb(poller.pid)
                    workers = sum(_rss_mb(c) for c in _children(poller.pid))
                    samples.append((time.monotonic() - started, own, workers))
                    time.sleep(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            _out, err = poller.communicate(timeout=3600)
            took = time.monotonic() - started
            sampler.join(timeout=5)

            db = sqlite3.connect(Path(data) / "db.sqlite3")
            first = db.execute(
                "SELECT count(*) FROM mailgateway_inboundmessage WHERE outcome <> 'duplicate'"
            ).fetchone()[0]
            duplicates = db.execute(
                "SELECT count(*) FROM mailgateway_inboundmessage WHERE outcome = 'duplicate'"
            ).fetchone()[0]
            tickets = db.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]
            db.close()

        with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=60) as client:
            client.login(user, password)
            left = client.select_folder("INBOX")[b"EXISTS"]
            moved = client.select_folder("Processed")[b"EXISTS"]
    finally:
        stop_dovecot(dovecot)
        oauth_http.shutdown()

    def at(share: float) -> float:
        if not samples:
            return 0.0
        return round(samples[min(len(samples) - 1, int(share * len(samples)))][1], 1)

    figures = {
        "mails": mails,
        "append_seconds": round(appended_in, 1),
        "poll_seconds": round(took, 1),
        "mails_per_second": round(mails / took, 1),
        "poller_exit": poller.returncode,
        "poller_stderr_tail": err.decode(errors="replace")[-500:],
        "rss_mb_at_25_50_100": [at(0.25), at(0.5), at(1.0)],
        "rss_mb_peak": round(max((s[1] for s in samples), default=0.0), 1),
        "workers_rss_mb_peak": round(max((s[2] for s in samples), default=0.0), 1),
        "stored": first,
        "duplicates": duplicates,
        "tickets": tickets,
        "left_in_inbox": left,
        "in_processed": moved,
    }
    figures["ok"] = (
        poller.returncode == 0
        and first == tickets == moved == mails
        and duplicates == 0
        and left == 0
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=10_000)
    args = parser.parse_args()
    # The test helpers import our models: this process needs Django set up,
    # with a data dir of its own (the poller child gets another).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["HELPDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="imap-backlog-bench-")
    import django

    django.setup()
    figures = run(args.mails)
    print(json.dumps(figures, indent=2))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()

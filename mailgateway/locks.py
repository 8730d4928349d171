"""One poller per mailbox, across processes (RELIABILITY-SECURITY.md durability rule 8).

PostgreSQL: a session advisory lock taken on a connection of its own, so closing
or re-opening Django's connection cannot drop it, and it works across machines.
SQLite: flock() on a file beside the database; the kernel releases it when the
holder dies, even by SIGKILL, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def _advisory_key(name: str) -> int:
    digest = hashlib.sha256(f"helpdesk:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_dir() -> Path:
    db_name = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
    if db_name and ":memory:" not in db_name and "mode=memory" not in db_name:
        path = Path(db_name)
        return path.with_name(path.name + ".locks")
    return Path(settings.DATA_DIR) / "locks"


@contextmanager
def try_lock(name: str) -> Iterator[bool]:
    """Yield True while holding the lock called name, False when another holds it."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        conn = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [_advisory_key(name)])
                row = cursor.fetchone()
            yield bool(row and row[0])
        finally:
            conn.close()  # ends the session, which releases the lock
        return
    directory = _lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
    path = directory / f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            # Unlock explicitly: a forked child (a batch worker) shares the open
            # file, and closing only our descriptor would leave the lock held.
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

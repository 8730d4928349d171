"""A private PostgreSQL cluster in a temporary directory, on a free port, that a
test may stop hard (pg_ctl stop -m immediate: what a crash or a kill -9 of
the postmaster does) and start again. The machine's own PostgreSQL is never
touched. initdb refuses to run as root: as root the cluster runs as the
`postgres` system user."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.faults.ledger import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class Cluster:
    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="hd-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, str(self.bin / program), *args], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr or result.stdout}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def crash(self) -> None:
        """Stop at once: no checkpoint, connections cut; recovery at the next start."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data))

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.data))

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self, name: str, template: str = "template1") -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

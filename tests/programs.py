"""The system programs some tests need, and the Debian packages that bring them.

This is the one list: tests/conftest.py checks it (skip when a program is
missing, fail when the CI variable is set), and `make test-deps` installs
its packages (`python3 tests/programs.py --debs` prints them). Standard
library only, so it runs before the virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Program:
    name: str
    debs: tuple[str, ...]
    used_by: str
    # Where to look besides PATH (/usr/sbin is not on an ordinary user's PATH).
    paths: tuple[str, ...] = ()
    # Programs started beside it (doveadm with dovecot): all must be there.
    companions: tuple[str, ...] = ()

    @property
    def install(self) -> str:
        return "apt-get install " + " ".join(self.debs)


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in [
        Program(
            "dovecot",
            debs=("dovecot-imapd", "dovecot-core"),
            used_by="the IMAP poller tests (tests/mailgateway/test_imap_*.py)",
            paths=("/usr/sbin/dovecot",),
            companions=("doveadm",),
        ),
        Program(
            "chromium",
            debs=("chromium",),
            used_by="the browser tests (tests/browser/)",
            paths=("/usr/bin/chromium",),
        ),
        Program(
            "pg_dump",
            debs=("postgresql-client",),
            used_by=(
                "backup and restore on PostgreSQL, and the move between the engines"
                " (tests/helpdesk/test_backup.py, test_backup_portable.py)"
            ),
            companions=("pg_restore",),
        ),
        Program(
            "msgfmt",
            debs=("gettext",),
            used_by="the catalogue check in tests/test_translations.py (and `make messages`)",
        ),
        Program(
            "nginx",
            debs=("nginx-light",),
            used_by="downloads by X-Accel-Redirect through nginx (tests/helpdesk/test_x_accel.py)",
            paths=("/usr/sbin/nginx",),
        ),
    ]
}


def locate(name: str) -> str | None:
    """Path of a program, or None: PATH first, then the program's usual place."""
    found = shutil.which(name)
    if found:
        return found
    for path in PROGRAMS[name].paths if name in PROGRAMS else ():
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    # Companions live beside their program (doveadm in /usr/bin, dovecot in /usr/sbin).
    for directory in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@cache
def missing(name: str) -> tuple[str, ...]:
    """The executables of PROGRAMS[name] (and companions) that are not installed."""
    program = PROGRAMS[name]
    if name == "chromium" and os.environ.get("HELPDESK_CHROMIUM"):
        wanted = [os.environ["HELPDESK_CHROMIUM"], *program.companions]
    else:
        wanted = [name, *program.companions]
    return tuple(w for w in wanted if locate(w) is None)


def all_debs() -> list[str]:
    return sorted({deb for program in PROGRAMS.values() for deb in program.debs})


if __name__ == "__main__":
    if sys.argv[1:] == ["--debs"]:
        print(" ".join(all_debs()))
    else:
        for program in PROGRAMS.values():
            state = "missing" if missing(program.name) else "ok"
            print(f"{program.name:10} {state:8} {program.install:40} {program.used_by}")

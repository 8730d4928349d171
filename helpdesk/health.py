"""The /healthz report: each app registers probes; one place runs them.

A probe returns a dict that includes "ok": bool. Apps add theirs in
AppConfig.ready() (outbox backlog, quarantine, last IMAP poll).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

Probe = Callable[[], dict[str, Any]]
_probes: dict[str, Probe] = {}


def register(name: str, probe: Probe) -> None:
    _probes[name] = probe


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


register("database", _database)


def report() -> dict[str, Any]:
    """Run every probe; a probe that raises is reported unhealthy, never fatal."""
    checks: dict[str, Any] = {}
    for name, probe in _probes.items():
        try:
            checks[name] = probe()
        except Exception as exc:
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": all(c.get("ok", False) for c in checks.values()), "checks": checks}

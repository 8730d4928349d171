"""Fault-injection suites (issue 16): real processes killed, restarted and
starved, then every mail counted.

Light by default (part of `make test`, a few kills each); `--heavy` (or
HELPDESK_FAULTS_HEAVY=1) runs the sizes docs/PROOF.md reports:

    .venv/bin/pytest -p no:xdist tests/faults --heavy

Each test records its figures (tried, lost, duplicated, kills, ...) with the
`figures` fixture (tests/proof.py); they are printed at the end of the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# The IMAP fixtures (a real Dovecot) and the mail gateway's raw archive.
from tests.mailgateway.conftest import (  # noqa: F401
    _fresh_batch_workers,
    _raw_dir,
    dovecot,
    oauth_server,
)


@pytest.fixture
def child_env(tmp_path: Path, _raw_dir: Path) -> dict[str, str]:  # noqa: F811
    """The environment of a manage.py child on this test's database and archive."""
    from django.conf import settings

    from tests.mailgateway.conftest import database_url

    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HELPDESK_DATA_DIR": str(tmp_path / "child-data"),
        "HELPDESK_RAW_DIR": str(_raw_dir),
        "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def dovecot_without_move(oauth_server: Any) -> Any:  # noqa: F811
    """A second Dovecot that does not offer MOVE (RFC 6851), as older servers:
    the poller must COPY, then flag and expunge."""
    from tests.conftest import require_program
    from tests.mailgateway.dovecot import start_dovecot, stop_dovecot

    require_program("dovecot")
    capabilities = (
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
        "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
        "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE "
        "QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY "
        "LITERAL+ NOTIFY"
    )
    server = start_dovecot(oauth_server, extra_conf=f"imap_capability = {capabilities}\n")
    yield server
    stop_dovecot(server)

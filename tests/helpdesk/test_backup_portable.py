"""Moving up from SQLite: a backup restores into the other database engine.

Each step runs as its own `manage.py` process with its own data dir, as an
operator would run it, so these tests run the same in the SQLite and the
PostgreSQL runs of the suite. The PostgreSQL side is a throwaway database
the test creates on the machine's server and drops at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci, require_program

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "email"
PASSWORD = "a-demo-password-for-backups"

# What a helpdesk holds, read back through the ORM: every table's row count,
# every ticket, message, event, attachment (its bytes) and raw mail (its
# bytes), a search, a login. Printed as JSON; then a ticket is opened to show
# which reference the counter hands out next, and the tables counted again.
SUMMARY = """
import hashlib, json
from django.apps import apps
from django.contrib.auth import get_user_model
from mailgateway import store
from mailgateway.models import InboundMessage
from tickets import services
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.search import search_tickets

def summary():
    return {
        "counts": {m._meta.label_lower: m._base_manager.count()
                   for m in apps.get_models(include_auto_created=True)},
        "tickets": sorted([t.reference, t.subject, t.status, t.priority, t.created_at.isoformat(),
                           t.updated_at.isoformat(), sorted(t.tags.values_list("name", flat=True))]
                          for t in Ticket.objects.all()),
        "messages": sorted([m.ticket.reference, m.kind, m.body, m.created_at.isoformat()]
                           for m in Message.objects.select_related("ticket")),
        "events": sorted([e.ticket.reference, e.kind, e.old_value, e.new_value,
                          e.created_at.isoformat()]
                         for e in TicketEvent.objects.select_related("ticket")),
        "attachments": sorted([a.ticket.reference, a.original_name,
                               hashlib.sha256(a.file.read()).hexdigest()]
                              for a in Attachment.objects.select_related("ticket")),
        "raw": sorted(hashlib.sha256(store.read_raw(r.raw_path)).hexdigest()
                      for r in InboundMessage.objects.exclude(raw_path="")),
        "search": sorted(t.reference for t in search_tickets(Ticket.objects.all(), SEARCH,
                                                             include_notes=True)),
        "login": get_user_model().objects.get(email="agent@example.com").check_password(PASSWORD),
    }

before = summary()
customer = get_user_model().objects.get(email="customer@example.com")
opened = services.ticket_create(requester=customer, subject="After the move", body="Hello")
print(json.dumps({"before": before, "new_reference": opened.reference, "after": summary()}))
"""

# The source install: migrated, demo accounts, mail through the real ingest
# pipeline (tickets, messages, attachments, raw mails, events, outbox rows),
# an agent's reply and internal note, a tag.
SEED = """
from django.core.management import call_command
from django.contrib.auth import get_user_model
from tickets import services
from tickets.models import Tag, Ticket
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
call_command("ingest_email", *FILES)
agent = get_user_model().objects.get(email="agent@example.com")
ticket = Ticket.objects.order_by("id").first()
services.ticket_reply_add(ticket=ticket, author=agent, body="Trocamos o toner da impressora.")
services.ticket_reply_add(ticket=ticket, author=agent, body="Nota: garantia", internal=True)
ticket.tags.add(Tag.objects.create(name="hardware"))
# Text that breaks naive line-based formats: CR, Unicode line separators, emoji.
services.ticket_reply_add(ticket=ticket, author=agent, body="a\\rb\\u2028c\\x85d 😀 ação")
"""


def _manage(*args: str, data_dir: Path, database_url: str = "") -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_DEMO_PASSWORD": PASSWORD,
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {args[0]}: {result.stdout}{result.stderr}"
    return result.stdout


def _shell(code: str, *, data_dir: Path, database_url: str = "") -> str:
    return _manage(
        "shell", "--no-imports", "-c", code, data_dir=data_dir, database_url=database_url
    )


def _summary(data_dir: Path, database_url: str = "") -> dict[str, Any]:
    code = f"SEARCH = 'toner'\nPASSWORD = {PASSWORD!r}\n" + SUMMARY
    out = _shell(code, data_dir=data_dir, database_url=database_url)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _backup(data_dir: Path, database_url: str = "") -> Path:
    out = _manage(
        "backup", "--dir", str(data_dir / "backups"), data_dir=data_dir, database_url=database_url
    )
    return Path(out.split()[0])


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        source = tar.extractfile("manifest.json")
        assert source is not None
        result: dict[str, Any] = json.load(source)
        return result


@pytest.fixture
def postgres_databases() -> Iterator[Callable[[], str]]:
    """Makes new, empty PostgreSQL databases on the machine's server (their
    URLs); drops them all at the end."""
    psycopg = pytest.importorskip("psycopg")
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        server = "postgres://postgres@127.0.0.1:5432/postgres"
    base = server.rsplit("/", 1)[0]
    try:
        admin = psycopg.connect(base + "/postgres", autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        message = f"no PostgreSQL server at {base}: {exc}"
        if in_ci():
            pytest.fail(message + " [CI is set: no skipping]", pytrace=False)
        pytest.skip(message)
    made: list[str] = []

    def new() -> str:
        name = f"hd_restore_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{base}/{name}"

    with admin:
        try:
            yield new
        finally:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_databases: Callable[[], str]) -> str:
    return postgres_databases()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite install with mail in it, made once and copied by each test."""
    data_dir = tmp_path_factory.mktemp("seeded")
    files = [
        str(FIXTURES / name)
        for name in (
            "gmail_new_ptbr.eml",
            "thunderbird_new_attachment_latin1.eml",
            "outlook_web_reply_en.eml",
            "gmail_vacation_new.eml",
        )
    ]
    _shell(f"FILES = {files!r}\n" + SEED, data_dir=data_dir)
    return data_dir


def _copy(seeded: Path, to: Path) -> Path:
    # No process has the database open: a plain copy of the data dir is a copy.
    shutil.copytree(seeded, to, ignore=shutil.ignore_patterns("cache", "secret_key"))
    return to


def _keep_secret_key(source: Path, *targets: Path) -> None:
    for target in targets:
        target.mkdir()
        shutil.copy2(source / "secret_key", target / "secret_key")


def _next(reference: str) -> str:
    prefix, number = reference.rsplit("-", 1)
    return f"{prefix}-{int(number) + 1:04d}"


def test_a_sqlite_backup_restores_into_postgresql_and_back(
    tmp_path: Path, seeded: Path, postgres_url: str
) -> None:
    require_program("pg_dump")  # the way back starts with a backup of PostgreSQL
    sqlite_dir = _copy(seeded, tmp_path / "sqlite")
    pg_dir, back_dir = tmp_path / "pg", tmp_path / "back"
    archive = _backup(sqlite_dir)
    # Read after the backup: the summary opens a ticket once it has looked.
    on_sqlite = _summary(sqlite_dir)["before"]
    manifest = _manifest(archive)
    assert manifest["vendor"] == "sqlite"
    assert manifest["tables"]["tickets.ticket"]["rows"] == on_sqlite["counts"]["tickets.ticket"]

    # As an operator moving to another data dir would, the old key comes along.
    _keep_secret_key(sqlite_dir, pg_dir, back_dir)
    out = _manage("restore", str(archive), data_dir=pg_dir, database_url=postgres_url)
    # One line per check, each saying what it checked.
    assert "loaded into an empty, migrated postgresql database (sqlite to postgresql" in out
    assert f"{manifest['rows']} rows; every count and content checksum matches" in out
    assert "Search index: rebuilt for" in out and "id sequences moved past" in out
    assert f"Files: {manifest['files']} restored" in out and "every sha256 matches" in out
    assert "Secret key: the backup's, so mailbox passwords and reply addresses carry over" in out

    on_pg = _summary(pg_dir, postgres_url)
    assert on_pg["before"] == on_sqlite
    assert on_sqlite["attachments"] and on_sqlite["raw"] and on_sqlite["search"]
    assert on_sqlite["login"] is True
    highest = max(reference for reference, *_ in on_sqlite["tickets"])
    assert on_pg["new_reference"] == _next(highest)

    # And back: the PostgreSQL install (with the ticket opened there) into SQLite.
    archive = _backup(pg_dir, postgres_url)
    out = _manage("restore", str(archive), data_dir=back_dir)
    assert "(postgresql to sqlite" in out and "every count and content checksum matches" in out
    on_sqlite_again = _summary(back_dir)
    assert on_sqlite_again["before"] == on_pg["after"]
    assert on_sqlite_again["new_reference"] == _next(on_pg["new_reference"])


WRITER = """
from pathlib import Path
from django.contrib.auth import get_user_model
from tickets import services
from tickets.services import NewAttachment
customer = get_user_model().objects.get(email="customer@example.com")
ready, stop = Path(READY), Path(STOP)
n = 0
while not stop.exists():
    n += 1
    ticket = services.ticket_create(
        requester=customer, subject=f"Written during the backup {n}", body=f"body {n}",
        attachments=[NewAttachment(name=f"{n}.txt", content_type="text/plain", content=b"x" * n)],
    )
    services.ticket_reply_add(ticket=ticket, author=customer, body=f"more {n}")
    if n == 5:
        ready.write_text("5")
print(n)
"""

CONSISTENCY = """
import json
from pathlib import Path
from django.apps import apps
from tickets.models import Attachment, Message, Ticket
print(json.dumps({
    "counts": {m._meta.label_lower: m._base_manager.count()
               for m in apps.get_models(include_auto_created=True)},
    "orphan_messages": Message.objects.exclude(ticket__in=Ticket.objects.all()).count(),
    "tickets_without_message": Ticket.objects.filter(messages__isnull=True).count(),
    "missing_files": sum(1 for a in Attachment.objects.all() if not Path(a.file.path).is_file()),
}))
"""


# The engine of this run of the suite: the SQLite run takes this backup on
# SQLite, the PostgreSQL run on PostgreSQL (its processes are the test's own,
# so both engines in both runs would only repeat the same work).
RUN_ENGINE = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"


def test_a_backup_taken_while_tickets_are_written_restores_consistently(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source_url = target_url = ""
    if RUN_ENGINE == "sqlite":
        _copy(request.getfixturevalue("seeded"), source)
    else:
        require_program("pg_dump")
        new_database = request.getfixturevalue("postgres_databases")
        source_url, target_url = new_database(), new_database()
        _shell(
            "from django.core.management import call_command\n"
            "call_command('migrate', verbosity=0); call_command('seed_demo', verbosity=0)",
            data_dir=source,
            database_url=source_url,
        )
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HELPDESK_DATA_DIR": str(source),
        **({"DATABASE_URL": source_url} if source_url else {}),
    }
    code = f"READY = {str(ready)!r}\nSTOP = {str(stop)!r}\n" + WRITER
    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The backup starts once the writer is under way (it then writes on
        # until the backup has finished).
        for _ in range(6000):
            if ready.exists():
                break
            assert writer.poll() is None, writer.communicate()[1]
            time.sleep(0.05)
        archive = _backup(source, source_url)
    finally:
        stop.write_text("stop")
        written_out, written_err = writer.communicate(timeout=120)
    assert writer.returncode == 0, written_err
    written = int(written_out.strip().splitlines()[-1])

    manifest = _manifest(archive)
    in_backup = manifest["tables"]["tickets.ticket"]["rows"]
    assert 5 <= in_backup <= written

    # The same engine: the native dump goes back, and its tables match the
    # counts and checksums taken from the portable rows, so both parts hold
    # one and the same snapshot.
    out = _manage("restore", str(archive), data_dir=target, database_url=target_url)
    assert "restored as dumped" in out
    # The target generated a key of its own: restore says what that costs.
    assert "Secret key: NOT the backup's" in out
    assert "every count and content checksum matches the manifest" in out
    restored = json.loads(
        _shell(CONSISTENCY, data_dir=target, database_url=target_url).strip().splitlines()[-1]
    )
    assert {label: table["rows"] for label, table in manifest["tables"].items()} == {
        label: count for label, count in restored["counts"].items() if label in manifest["tables"]
    }
    assert restored["counts"]["tickets.ticket"] == in_backup
    assert restored["orphan_messages"] == 0
    assert restored["tickets_without_message"] == 0
    assert restored["missing_files"] == 0

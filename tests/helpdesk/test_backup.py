import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from helpdesk.ops.rotation import Archive, archives, rotate, to_keep
from tests.conftest import require_program
from tickets import services
from tickets.models import Ticket
from tickets.services import NewAttachment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_brings_tickets_and_files_back(
    tmp_path: Path, settings: Any, customer: Any, capsys: Any
) -> None:
    if connection.vendor == "postgresql":
        require_program("pg_dump")  # and pg_restore: Debian's postgresql-client
    settings.DATA_DIR = tmp_path / "data"
    settings.HELPDESK_RAW_DIR = settings.DATA_DIR / "raw"
    ticket = services.ticket_create(
        requester=customer,
        subject="Backup me",
        body="b",
        attachments=[NewAttachment(name="a.txt", content_type="text/plain", content=b"abc")],
    )
    raw = settings.HELPDESK_RAW_DIR / "2026" / "x.eml"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"Subject: raw\r\n\r\nhi")

    call_command("backup", "--dir", str(tmp_path / "backups"))
    archive = Path(capsys.readouterr().out.split()[0])
    assert archive.name.startswith("helpdesk-backup-") and archive.name.endswith(".tar.gz")

    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive))

    Ticket.objects.all().delete()
    attachment_file = Path(settings.MEDIA_ROOT)
    for path in sorted(attachment_file.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    raw.unlink()

    call_command("restore", str(archive))
    restored = Ticket.objects.get(reference=ticket.reference)
    assert restored.attachments.get().file.read() == b"abc"
    assert raw.read_bytes() == b"Subject: raw\r\n\r\nhi"


@pytest.mark.django_db(transaction=True)
def test_restore_of_a_missing_or_corrupt_archive_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No backup at"):
        call_command("restore", str(tmp_path / "nope.tar.gz"), "--force")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(CommandError, match="not a helpdesk backup"):
        call_command("restore", str(junk), "--force")


def test_commands_explain_themselves() -> None:
    for name in ("backup", "restore", "seed_demo", "healthcheck"):
        result = subprocess.run(
            [sys.executable, "manage.py", name, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=60,
        )
        assert result.returncode == 0 and len(result.stdout) > 200, name


def _rewrite(archive: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Rewrite archive with change(name, data) applied to each member's bytes
    (None leaves the member out)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]  # type: ignore[union-attr]
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in members:
            changed = change(member.name, data)
            if changed is not None:
                member.size = len(changed)
                tar.addfile(member, io.BytesIO(changed))


@pytest.mark.django_db(transaction=True)
def test_restore_checks_rows_and_files_against_the_manifest(
    tmp_path: Path, settings: Any, customer: Any, capsys: Any
) -> None:
    if connection.vendor == "postgresql":
        require_program("pg_dump")
    settings.DATA_DIR = tmp_path / "data"
    services.ticket_create(
        requester=customer,
        subject="Checked",
        body="b",
        attachments=[NewAttachment(name="a.txt", content_type="text/plain", content=b"abc")],
    )
    call_command("backup", "--dir", str(tmp_path / "backups"))
    archive = Path(capsys.readouterr().out.split()[0])
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["tables"]["tickets.ticket"]["rows"] == 1
    assert manifest["tables"]["tickets.message"]["rows"] == 1

    # --check reads the archive alone: every part, row and file, restoring nothing.
    call_command("restore", str(archive), "--check")
    out = capsys.readouterr().out
    assert f"{manifest['rows']} rows, every count and content checksum matches" in out
    assert "Files: 1, every sha256 matches files.sha256." in out and "would restore" in out

    call_command("restore", str(archive), "--force")
    out = capsys.readouterr().out
    assert f"{manifest['rows']} rows; every count and content checksum matches" in out
    assert "Files: 1 restored (attachments 1, raw mails 0); every sha256 matches" in out
    assert "Reference counters:" in out and "none behind its tickets" in out

    # A file whose bytes changed in the archive (same size): caught by its sha256.
    good = archive.read_bytes()
    _rewrite(archive, lambda name, data: b"abd" if name.startswith("files/media/") else data)
    with pytest.raises(CommandError, match=r"1 files differ from files\.sha256"):
        call_command("restore", str(archive), "--check")
    with pytest.raises(CommandError, match=r"1 restored files differ from files\.sha256"):
        call_command("restore", str(archive), "--force")

    # A table with fewer rows than the manifest lists: caught by the count.
    archive.write_bytes(good)

    def one_more_ticket(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        changed = json.loads(data)
        changed["tables"]["tickets.ticket"]["rows"] = 2
        return json.dumps(changed).encode()

    _rewrite(archive, one_more_ticket)
    with pytest.raises(CommandError, match=r"tickets\.ticket has 1 rows of 2"):
        call_command("restore", str(archive), "--check")
    with pytest.raises(CommandError, match=r"tickets\.ticket has 1 rows of 2"):
        call_command("restore", str(archive), "--force")


@pytest.mark.django_db(transaction=True)
def test_a_backup_of_the_first_format_still_restores(
    tmp_path: Path, settings: Any, customer: Any, capsys: Any
) -> None:
    """Archives made before the portable part (format 1: native dump, files,
    a manifest without tables or sums) are the nightly backups installs have."""
    if connection.vendor == "postgresql":
        require_program("pg_dump")
    settings.DATA_DIR = tmp_path / "data"
    ticket = services.ticket_create(
        requester=customer,
        subject="Old format",
        body="b",
        attachments=[NewAttachment(name="a.txt", content_type="text/plain", content=b"abc")],
    )
    call_command("backup", "--dir", str(tmp_path / "backups"))
    archive = Path(capsys.readouterr().out.split()[0])

    def first_format(name: str, data: bytes) -> bytes | None:
        if name in ("database.jsonl.gz", "files.sha256"):
            return None
        if name == "manifest.json":
            now = json.loads(data)
            keys = ("created", "vendor", "database", "files")
            return json.dumps({"format": 1, **{key: now[key] for key in keys}}).encode()
        return data

    _rewrite(archive, first_format)
    Ticket.objects.all().delete()
    call_command("restore", str(archive), "--force")
    out = capsys.readouterr().out
    assert "restored as dumped" in out and "this backup's format has no checksums" in out
    assert Ticket.objects.get(reference=ticket.reference).attachments.get().file.read() == b"abc"


def _archives(*stamps: str) -> list[Archive]:
    return [
        Archive(Path(f"helpdesk-backup-{stamp}.tar.gz"), datetime.strptime(stamp, "%Y%m%d-%H%M%S"))
        for stamp in stamps
    ]


def test_rotation_keeps_the_newest_of_each_recent_day_and_week() -> None:
    found = _archives(
        "20260302-031500",  # Monday, ISO week 10
        "20260302-010000",  # the same day, older
        "20260301-031500",  # Sunday, week 9
        "20260228-031500",  # Saturday, week 9
        "20260223-031500",  # Monday, week 9
        "20260222-031500",  # Sunday, week 8
        "20260216-031500",  # Monday, week 8
        "20260209-031500",  # week 7
        "20260110-031500",  # week 2
    )
    kept = {a.path.name[16:31] for a in found if a.path in to_keep(found, daily=3, weekly=3)}
    # Days: 2 March, 1 March, 28 February. Weeks: 10 (2 March), 9 (1 March), 8 (22 February).
    assert kept == {"20260302-031500", "20260301-031500", "20260228-031500", "20260222-031500"}
    # The newest archive is kept whatever the counts.
    assert {a.path for a in found} & to_keep(found, daily=0, weekly=0) == {found[0].path}


def test_a_second_backup_in_the_same_second_is_the_newer(tmp_path: Path) -> None:
    for name in ("20260302-031500.tar.gz", "20260302-031500-2.tar.gz", "20260301-031500.tar.gz"):
        (tmp_path / f"helpdesk-backup-{name}").write_bytes(b"")
    found = [a.path.name for a in archives(tmp_path)]
    assert found == [
        "helpdesk-backup-20260302-031500-2.tar.gz",
        "helpdesk-backup-20260302-031500.tar.gz",
        "helpdesk-backup-20260301-031500.tar.gz",
    ]
    assert rotate(tmp_path, daily=2, weekly=0) == [tmp_path / found[1]]


@pytest.mark.django_db(transaction=True)
def test_backup_rotates_older_archives_after_it_succeeded(
    tmp_path: Path, settings: Any, capsys: Any
) -> None:
    if connection.vendor == "postgresql":
        require_program("pg_dump")
    settings.DATA_DIR = tmp_path / "data"
    settings.HELPDESK_BACKUP_KEEP_DAILY = 2
    settings.HELPDESK_BACKUP_KEEP_WEEKLY = 0
    directory = tmp_path / "backups"
    directory.mkdir()
    now = timezone.now()
    yesterday, older = now - timedelta(days=1), now - timedelta(days=2)
    made_up = {
        "yesterday_late": yesterday.replace(hour=23, minute=0),
        "yesterday_early": yesterday.replace(hour=1, minute=0),
        "before": older,
        "last_month": now - timedelta(days=30),
    }
    paths = {}
    for key, when in made_up.items():
        paths[key] = directory / f"helpdesk-backup-{when:%Y%m%d-%H%M%S}.tar.gz"
        paths[key].write_bytes(b"an old archive")
    others = [directory / "notes.txt", directory / "helpdesk-backup-manual.tar.gz"]
    for path in others:
        path.write_text("not ours to delete")

    call_command("backup", "--dir", str(directory))
    new = Path(capsys.readouterr().out.split()[0])
    assert new.exists() and paths["yesterday_late"].exists()
    assert not any(paths[key].exists() for key in ("yesterday_early", "before", "last_month"))
    assert all(path.exists() for path in others)

    # --no-rotate keeps what is there this time, even with a policy of one.
    settings.HELPDESK_BACKUP_KEEP_DAILY = 1
    call_command("backup", "--dir", str(directory), "--no-rotate")
    newer = Path(capsys.readouterr().out.split()[0])
    assert new.exists() and newer.exists() and paths["yesterday_late"].exists()

    # Both counts 0: rotation is off, nothing more is deleted.
    assert rotate(directory, daily=0, weekly=0) == []
    assert new.exists() and paths["yesterday_late"].exists()

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

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

"""Backups with HELPDESK_S3_BUCKET: the archive holds the bucket's
attachments and raw mails (read through the storage API, checksummed like
local files), and restore writes them back into the store."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests import objectstore
from tests.conftest import require_program
from tests.mailgateway.test_s3 import PDF, mail_with_attachment
from tests.objectstore import S3Server
from tickets.models import Attachment, Ticket


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    yield from objectstore.running()


@pytest.fixture
def s3_settings(settings: Any, s3_server: S3Server) -> S3Server:
    return objectstore.use_in_this_process(settings, s3_server)


@pytest.mark.django_db(transaction=True)
def test_a_backup_holds_the_buckets_files_and_restores_them_into_it(
    s3_settings: S3Server, tmp_path: Path, settings: Any, capsys: Any
) -> None:
    if connection.vendor == "postgresql":
        require_program("pg_dump")
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    raw = mail_with_attachment()
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    assert result.outcome == "created"
    row = InboundMessage.objects.get()
    attachment = Attachment.objects.get(original_name="fatura.pdf")

    call_command("backup", "--dir", str(tmp_path / "backups"))
    archive = Path(capsys.readouterr().out.split()[0])
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert f"files/raw/{row.raw_path}" in names
        assert f"files/media/{attachment.file.name}" in names
        member = tar.extractfile(f"files/media/{attachment.file.name}")
        assert member is not None and member.read() == PDF
        sums = tar.extractfile("files.sha256")
        assert sums is not None and len(sums.read().splitlines()) == 2

    # The store lost everything (a new, empty bucket), the database too.
    s3_settings.stop()
    s3_settings.start()
    Ticket.objects.all().delete()
    InboundMessage.objects.all().delete()

    call_command("restore", str(archive))
    out = capsys.readouterr().out
    assert "every sha256 matches" in out
    assert s3_settings.objects("raw/") == {f"raw/{row.raw_path}": raw}
    assert s3_settings.objects("attachments/") == {attachment.file.name: PDF}
    restored = Ticket.objects.get(reference=result.reference)
    assert restored.attachments.get().file.read() == PDF

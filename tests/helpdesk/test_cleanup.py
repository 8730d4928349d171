import os
from pathlib import Path
from typing import Any

from django.core.management import call_command

from tickets import services
from tickets.services import NewAttachment


def test_it_removes_only_old_unreferenced_files(settings: Any, customer: Any, capsys: Any) -> None:
    ticket = services.ticket_create(
        requester=customer,
        subject="s",
        body="b",
        attachments=[NewAttachment(name="kept.txt", content_type="text/plain", content=b"k")],
    )
    kept = Path(ticket.attachments.get().file.path)
    folder = Path(settings.MEDIA_ROOT) / "attachments" / "2020" / "01"
    folder.mkdir(parents=True)
    old_orphan, new_orphan = folder / "old", folder / "new"
    old_orphan.write_bytes(b"x")
    new_orphan.write_bytes(b"y")
    for path in (old_orphan, kept):
        os.utime(path, (0, 0))

    call_command("cleanup_attachments")
    assert capsys.readouterr().out.strip() == f"removed {old_orphan}"
    assert not old_orphan.exists() and new_orphan.exists() and kept.exists()


def test_it_removes_raw_mails_no_inbound_row_points_at(db: Any, capsys: Any) -> None:
    from mailgateway import store
    from mailgateway.ingest import ingest_raw_email
    from tests.mailgateway.conftest import make_mail

    stored = ingest_raw_email(make_mail(), door="pipe")
    from mailgateway.models import InboundMessage

    kept = store.raw_root() / InboundMessage.objects.get(pk=stored.inbound_id).raw_path
    # What a batch killed before its commit leaves: a file without a row.
    orphan = store.raw_root() / store.write_raw(b"Subject: never committed\r\n\r\nx")
    for path in (kept, orphan):
        os.utime(path, (0, 0))
    call_command("cleanup_attachments")
    assert capsys.readouterr().out.strip() == f"removed {orphan}"
    assert kept.exists() and not orphan.exists()

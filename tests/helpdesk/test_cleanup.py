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

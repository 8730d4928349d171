from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.ops.backup import BackupError, restore_backup
from helpdesk.progress import progress


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` into the configured database and data dir. "
        "Stop the web, smtp and worker processes first. Refuses a target that already holds "
        "tickets or files unless --force is given (which replaces them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="Path of the .tar.gz archive written by `backup`.")
        parser.add_argument(
            "--force", action="store_true", help="Overwrite a target that already has data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore_backup(
                archive=Path(options["backup"]),
                force=options["force"],
                each_file=lambda items, total: progress(items, total=total, label="files"),
            )
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored backup of {manifest['created']} ({manifest['files']} files).")

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.ops.backup import BackupError
from helpdesk.ops.restore import restore_backup
from helpdesk.ops.verify import check_backup
from helpdesk.progress import progress


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` into the configured database and data dir. "
        "Stop the web, smtp and worker processes first. A backup of the same database engine "
        "goes back as dumped; one of the other engine (SQLite into PostgreSQL, or back) is "
        "loaded into the empty target after migrating it, and the search index is rebuilt. "
        "Then checks each part's sha256, every table's row count, the reference counters and "
        "each file's sha256 against the manifest, printing one line per check. Refuses a "
        "target that already holds tickets or files unless --force is given (which replaces "
        "them). With --check, only checks the archive (every part, row and file against the "
        "manifest) and restores nothing: exit 0 when it would restore."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="Path of the .tar.gz archive written by `backup`.")
        parser.add_argument(
            "--force", action="store_true", help="Overwrite a target that already has data."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Check the archive against its manifest without restoring anything.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            try:
                manifest = check_backup(
                    archive=Path(options["backup"]),
                    each_file=lambda items, total: progress(items, total=total, label="files"),
                    say=self.stdout.write,
                )
            except (BackupError, OSError) as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"The {manifest['vendor']} backup of {manifest['created']} would restore."
            )
            return
        try:
            manifest = restore_backup(
                archive=Path(options["backup"]),
                force=options["force"],
                each_file=lambda items, total: progress(items, total=total, label="files"),
                each_row=lambda items, total: progress(items, total=total, label="rows"),
                say=self.stdout.write,
            )
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Restored the {manifest['vendor']} backup of {manifest['created']} "
            f"({manifest['files']} files)."
        )

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.ops.backup import BackupError, create_backup
from helpdesk.ops.rotation import rotate
from helpdesk.progress import progress


class Command(BaseCommand):
    help = (
        "Write a backup (database, attachments, raw mails) as one .tar.gz archive into "
        "HELPDESK_BACKUP_DIR (or --dir). Safe to run while the helpdesk runs: the database "
        "is read at one consistent snapshot, both as a native dump and as portable rows that "
        "`restore` loads into the other engine (SQLite or PostgreSQL). Then keeps the newest "
        "archive of each of the last HELPDESK_BACKUP_KEEP_DAILY days (7) and "
        "HELPDESK_BACKUP_KEEP_WEEKLY weeks (4) and deletes older ones. Prints the archive's "
        "path; shows progress in a terminal and stays quiet under cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", help="Directory for the archive (default: HELPDESK_BACKUP_DIR)."
        )
        parser.add_argument(
            "--no-rotate",
            action="store_true",
            help="Keep every older archive this time (no rotation).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = settings.BASE_DIR / (options["dir"] or settings.HELPDESK_BACKUP_DIR)
        try:
            info = create_backup(
                directory=directory,
                each_file=lambda items, total: progress(items, total=total, label="files"),
            )
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{info.path} ({info.files} files, {info.size} bytes)")
        if not options["no_rotate"]:
            # Only after a backup succeeded: a failing backup never thins the old ones.
            deleted = rotate(
                directory,
                daily=settings.HELPDESK_BACKUP_KEEP_DAILY,
                weekly=settings.HELPDESK_BACKUP_KEEP_WEEKLY,
            )
            if deleted and options["verbosity"] > 1:
                for path in deleted:
                    self.stdout.write(f"deleted {path}")

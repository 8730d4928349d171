from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.ops.backup import BackupError, create_backup
from helpdesk.progress import progress


class Command(BaseCommand):
    help = (
        "Write a backup (database, attachments, raw mails) as one .tar.gz archive into "
        "HELPDESK_BACKUP_DIR (or --dir). Safe to run while the helpdesk runs. Prints the "
        "archive's path; shows progress in a terminal and stays quiet under cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", help="Directory for the archive (default: HELPDESK_BACKUP_DIR)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["dir"] or settings.HELPDESK_BACKUP_DIR
        try:
            info = create_backup(
                directory=settings.BASE_DIR / directory,
                each_file=lambda items, total: progress(items, total=total, label="files"),
            )
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{info.path} ({info.files} files, {info.size} bytes)")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from helpdesk.ops.cleanup import GRACE_SECONDS, remove_orphans


class Command(BaseCommand):
    help = (
        "Delete attachment files and raw mails that no row references (left by crashes or "
        "rolled-back uploads and mail batches) and that are older than --hours (default 24). "
        "Prints nothing under cron unless something was removed; --dry-run only lists them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=GRACE_SECONDS / 3600)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        removed = remove_orphans(older_than=options["hours"] * 3600, dry_run=options["dry_run"])
        verb = "would remove" if options["dry_run"] else "removed"
        for path in removed:
            self.stdout.write(f"{verb} {path}")

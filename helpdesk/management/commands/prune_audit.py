"""`manage.py prune_audit`: forget audit entries past HELPDESK_AUDIT_DAYS."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from helpdesk.audit import prune


class Command(BaseCommand):
    help = (
        "Delete audit log entries older than --days (default HELPDESK_AUDIT_DAYS, 365). "
        "Prints nothing under cron unless something was deleted."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="keep this many days (HELPDESK_AUDIT_DAYS)"
        )

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        keep = days if days is not None else int(settings.HELPDESK_AUDIT_DAYS)
        if keep < 1:
            raise CommandError("--days (or HELPDESK_AUDIT_DAYS) must be at least 1")
        count = prune(days=keep)
        if count or options["verbosity"] > 1:
            self.stdout.write(f"prune_audit: deleted {count} audit entries older than {keep} days")

"""`manage.py prune_outbox`: forget delivered outbox rows after a while."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from outbound.models import OutboxItem


class Command(BaseCommand):
    help = (
        "Delete sent and skipped outbox rows (and their delivery log) older than --days "
        "(default 90). Failed and waiting rows are kept. Safe to run from cron."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="minimum age in days (default 90)")
        parser.add_argument("--dry-run", action="store_true", help="only count what would go")

    def handle(self, *args: Any, days: int, dry_run: bool, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1")
        old = OutboxItem.objects.filter(
            status__in=[OutboxItem.Status.SENT, OutboxItem.Status.SKIPPED],
            created_at__lt=timezone.now() - timedelta(days=days),
        )
        count = old.count()
        if not dry_run:
            old.delete()
        if count or options["verbosity"] > 1:
            verb = "would delete" if dry_run else "deleted"
            self.stdout.write(f"prune_outbox: {verb} {count} rows older than {days} days")

"""`manage.py prune_notifications`: forget old in-app notices."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from helpdesk.models import Notification


class Command(BaseCommand):
    help = (
        "Delete in-app notifications (the bell) read more than --days ago (default 90) and "
        "unread ones older than --unread-days (default 365). Prints nothing under cron "
        "unless something was deleted."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="read notices older than this")
        parser.add_argument(
            "--unread-days", type=int, default=365, help="unread notices older than this"
        )
        parser.add_argument("--dry-run", action="store_true", help="only count what would go")

    def handle(
        self, *args: Any, days: int, unread_days: int, dry_run: bool, **options: Any
    ) -> None:
        if days < 1 or unread_days < 1:
            raise CommandError("--days and --unread-days must be at least 1")
        now = timezone.now()
        old = Notification.objects.filter(
            Q(read_at__lt=now - timedelta(days=days))
            | Q(read_at__isnull=True, created_at__lt=now - timedelta(days=unread_days))
        )
        count = old.count()
        if not dry_run:
            old.delete()
        if count or options["verbosity"] > 1:
            verb = "would delete" if dry_run else "deleted"
            self.stdout.write(f"prune_notifications: {verb} {count} notifications")

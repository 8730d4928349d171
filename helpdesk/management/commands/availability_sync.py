"""`manage.py availability_sync`: agents' working hours set them available or away (cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from helpdesk.availability import availability_sync


class Command(BaseCommand):
    help = (
        "Set agents who have working hours (a business calendar on their account) available "
        "when their working time starts and away when it ends. A change made by hand holds "
        "until the next start or end. Prints nothing under cron unless someone changed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = availability_sync()
        if changed or options["verbosity"] > 1:
            self.stdout.write(f"availability_sync: {changed} agents changed")

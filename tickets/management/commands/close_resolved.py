from typing import Any

from django.core.management.base import BaseCommand

from helpdesk.progress import progress
from tickets.closing import autoclose, autoclose_due


class Command(BaseCommand):
    help = (
        "Close the tickets resolved more than HELPDESK_AUTOCLOSE_DAYS days ago (default 5) "
        "that the customer neither confirmed nor reopened; each gets the closing mail with "
        "the satisfaction survey once. Safe when two copies run at once. Prints a line only "
        "when it closed something (quiet under cron)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        due = autoclose_due()
        closed = sum(
            autoclose(ticket_id) for ticket_id in progress(due, total=len(due), label="closing")
        )
        if closed or options["verbosity"] > 1:
            self.stdout.write(f"closed {closed} resolved ticket(s)")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from helpdesk import report_mail


class Command(BaseCommand):
    help = (
        "Queue the report summary mail (yesterday with --period daily, the last seven days "
        "with --period weekly) for every manager and the admins who opted in, in each one's "
        "language, through the outbox. Running it twice for the same period sends nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", choices=sorted(report_mail.PERIODS), default="daily")

    def handle(self, *args: Any, **options: Any) -> None:
        period = report_mail.period_ending_yesterday(options["period"])
        queued = report_mail.queue_reports(period)
        if queued or options["verbosity"] > 1:
            self.stdout.write(
                f"queued {queued} {period.name} report mails "
                f"({period.first_day.isoformat()}..{period.last_day.isoformat()})"
            )

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection

from helpdesk import heartbeats
from helpdesk.ops import scheduler


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (SLA checks, auto-close, report mails, backup, file cleanup, "
        "pruning) on their schedule, for installs without cron. --once runs what is due now "
        "and exits. Several schedulers may run: each job run is claimed in the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run what is due, then exit.")
        parser.add_argument("--interval", type=float, default=30.0, help="Seconds between looks.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            for name in scheduler.run_due():
                self.stdout.write(f"ran {name}")
            return
        self.shutdown = False

        def stop(signum: int, frame: FrameType | None) -> None:
            self.shutdown = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not self.shutdown:
            heartbeats.beat("scheduler")
            for name in scheduler.run_due():
                self.stdout.write(f"ran {name}")
            if not connection.in_atomic_block:
                close_old_connections()
            slept = 0.0
            while slept < options["interval"] and not self.shutdown:
                time.sleep(0.5)
                slept += 0.5

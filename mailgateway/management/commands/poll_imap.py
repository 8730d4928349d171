import signal
import sys
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from mailgateway.imap_runner import UnknownMailbox, mailboxes, poll_all, run_idle, run_loop
from mailgateway.poller import PollResult


class Command(BaseCommand):
    help = (
        "Take new mail from the IMAP mailboxes configured in the admin (and HELPDESK_IMAP_URL) "
        "into the helpdesk. A message is moved, flagged or deleted on the server only after it "
        "is stored. Safe to start from cron while another run is still busy: that mailbox is "
        "skipped. Without --once it polls every --interval seconds until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit (for cron).")
        parser.add_argument("--mailbox", metavar="NAME", help="Only this mailbox.")
        parser.add_argument(
            "--idle",
            action="store_true",
            help="Keep a connection per mailbox in IMAP IDLE for near-instant delivery.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=60.0,
            help="Seconds between passes without --once/--idle (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"] and options["idle"]:
            raise CommandError("use either --once or --idle", returncode=64)
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive", returncode=64)
        self.verbosity = int(options["verbosity"])
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Finish the batch in hand (it is acknowledged), then stop.
            signal.signal(signum, lambda *_: stop.set())
        self.failed: list[PollResult] = []
        try:
            if options["once"]:
                for result in poll_all(mailboxes(options["mailbox"]), stop=stop):
                    self.report(result)
            elif options["idle"]:
                run_idle(options["mailbox"], stop=stop, report=self.report)
            else:
                run_loop(
                    options["mailbox"], interval=options["interval"], stop=stop, report=self.report
                )
        except (UnknownMailbox, ImproperlyConfigured) as exc:
            raise CommandError(str(exc), returncode=64) from None
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {exc}", returncode=75) from None
        if options["once"] and self.failed:
            names = ", ".join(result.mailbox for result in self.failed)
            raise CommandError(f"polling failed for: {names}")

    def report(self, result: PollResult) -> None:
        """One line per mailbox: always on a terminal, under cron only when there is news."""
        if result.error:
            self.failed.append(result)
            self.stderr.write(result.summary())
        elif result.taken or sys.stdout.isatty() or self.verbosity >= 2:
            self.stdout.write(result.summary())

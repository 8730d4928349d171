"""`manage.py smtpd [--host H] [--port P] [--lmtp]`: the embedded mail listener."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailgateway.smtp import serve


class Command(BaseCommand):
    help = (
        "Run the SMTP listener that turns mail to the support addresses into tickets "
        "(defaults: HELPDESK_SMTP_HOST, HELPDESK_SMTP_PORT). --lmtp speaks LMTP for "
        "delivery from a local Postfix. Stops gracefully on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.HELPDESK_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.HELPDESK_SMTP_PORT)
        parser.add_argument("--lmtp", action="store_true", help="speak LMTP (RFC 2033)")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        protocol = "LMTP" if options["lmtp"] else "SMTP"
        self.stdout.write(f"{protocol} listening on {options['host']}:{options['port']}")
        self.stdout.flush()
        try:
            serve(host=options["host"], port=options["port"], lmtp=options["lmtp"], stop=stop)
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from None
        except RuntimeError as exc:
            raise CommandError(f"listener failed to start: {exc}") from None

"""The MTA pipe door: `manage.py ingest_email [FILE ...]` (stdin when no FILE).

Speaks sysexits (Postfix pipe(8), local(8)): 0 once every mail is stored
(quarantined counts as stored), 75 EX_TEMPFAIL when anything may pass on a
retry (the MTA defers and retries), 65 EX_DATAERR for a message that can
never be accepted (too big), 64 EX_USAGE for bad usage. A failure prints a
one-line RFC 3463 status first, which Postfix uses in its bounce or log.
"""

from __future__ import annotations

import logging
import os
import sys
from argparse import ArgumentParser
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from helpdesk.progress import progress
from mailgateway.batch import IngestOutcome, ingest_stream
from mailgateway.errors import InboundError, InboundRejected
from mailgateway.ingest import ingest_raw_email, max_message_bytes

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = (
        "Ingest RFC 5322 mails from FILEs, or one mail from standard input (an MTA pipe). "
        "Prints '<FILE or -> <outcome> <reference or ->' per mail. Exit 0 when every mail "
        "was stored, 75 on a transient failure (retry later), 65 for a mail too big, "
        "64 on bad usage. Postfix local(8) variables SENDER and RECIPIENT are read as "
        "the envelope when set."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def usage_error(message: str) -> NoReturn:
            parser.print_usage(sys.stderr)
            sys.stderr.write(f"ingest_email: {message}\n")
            raise SystemExit(EX_USAGE)

        parser.error = usage_error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="*", metavar="FILE", help="mail files (.eml)")
        parser.add_argument(
            "--envelope-from",
            default=os.environ.get("SENDER", ""),
            help="the SMTP envelope sender (default: $SENDER from Postfix)",
        )
        parser.add_argument(
            "--envelope-to",
            action="append",
            default=None,
            help="an envelope recipient, repeatable (default: $ORIGINAL_RECIPIENT/$RECIPIENT)",
        )
        parser.add_argument(
            "--mailbox", default="", help="a name for where the mail came from (shown in admin)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:
            # Postfix reads an RFC 3463 status from the start of the output, so
            # log lines must not come first; the InboundMessage row keeps the
            # details. -v 2 shows the log.
            logging.getLogger("mailgateway").setLevel(logging.CRITICAL)
        rcpts = options["envelope_to"]
        if rcpts is None:
            env_rcpt = os.environ.get("ORIGINAL_RECIPIENT") or os.environ.get("RECIPIENT")
            rcpts = [env_rcpt] if env_rcpt else []
        limit = max_message_bytes()
        envelope = {
            "door": "pipe",
            "envelope_from": options["envelope_from"],
            "envelope_rcpts": rcpts,
            "mailbox": options["mailbox"],
        }
        if options["files"]:
            names = options["files"]
            for name in names:
                if not Path(name).is_file():
                    self._fail(EX_USAGE, f"5.3.0 {name}: no such file")
            # Too big files are never read (a mail of gigabytes must not fill memory).
            fits = {name: Path(name).stat().st_size <= limit for name in names}
            accepted = [name for name in names if fits[name]]
            if len(accepted) > 1:
                # BATCH mails per commit, read and prepared ahead by worker
                # processes on the other cores; each line is printed
                # (acknowledged) only after its batch committed.
                paths = [Path(name) for name in accepted]
                results: Iterator[IngestOutcome] = ingest_stream(paths, **envelope)
            else:
                results = iter([self._one(Path(name).read_bytes(), envelope) for name in accepted])
        else:
            if sys.stdin.isatty():
                self._fail(EX_USAGE, "5.3.0 no FILE given and standard input is a terminal")
            # Read at most limit + 1 bytes: enough to know it is too big.
            data = sys.stdin.buffer.read(limit + 1)
            if not data:
                self._fail(EX_USAGE, "5.6.0 empty message on standard input")
            names, fits = ["-"], {"-": len(data) <= limit}
            results = iter([self._one(data, envelope)] if fits["-"] else [])

        status = EX_OK
        # A bulk import from a terminal with the lines going to a file: a
        # progress bar on stderr (progress() draws nothing off a terminal).
        shown = names
        if len(names) > 1 and not sys.stdout.isatty():
            shown = progress(names, total=len(names), label="ingesting", stream=sys.stderr)
        for name in shown:
            if not fits[name]:
                self.stderr.write(f"5.3.4 {name}: message too big (limit {limit} bytes)")
                self.stdout.write(f"{name} rejected -")
                status = max(status, EX_DATAERR) if status != EX_TEMPFAIL else status
                continue
            result = next(results)
            if isinstance(result, InboundRejected):
                self.stderr.write(f"{result.smtp_code.split(' ')[1]} {name}: {result}")
                self.stdout.write(f"{name} rejected -")
                status = result.exit_code if status == EX_OK else status
            elif isinstance(result, InboundError):
                self.stderr.write(f"4.3.0 {name}: temporary failure, try again later ({result})")
                self.stdout.write(f"{name} deferred -")
                status = EX_TEMPFAIL
            else:
                self.stdout.write(f"{name} {result.outcome} {result.reference or '-'}")
        if status != EX_OK:
            raise SystemExit(status)

    @staticmethod
    def _one(raw: bytes, envelope: dict[str, Any]) -> IngestOutcome:
        try:
            return ingest_raw_email(raw, **envelope)
        except (InboundRejected, InboundError) as exc:
            return exc

    def _fail(self, code: int, message: str) -> NoReturn:
        self.stderr.write(message)
        raise SystemExit(code)

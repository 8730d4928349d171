"""`manage.py reprocess_quarantine [--all | ID ...]`: run quarantined mail (and mail
left pending by a crash) through the pipeline again, e.g. after a fix."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from mailgateway.errors import InboundError
from mailgateway.ingest import reprocess
from mailgateway.models import InboundMessage

# Younger pending rows may still be in the hands of a door right now.
PENDING_AGE = timedelta(minutes=1)


class Command(BaseCommand):
    help = (
        "Re-process quarantined inbound mails, and mails left pending by a crash. "
        "Give inbound mail IDs, or --all. Prints one summary line; a progress bar on a TTY."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, metavar="ID")
        parser.add_argument(
            "--all", action="store_true", help="every quarantined and stale pending mail"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["ids"]
        if bool(ids) == bool(options["all"]):
            raise CommandError("give inbound mail IDs or --all (not both)", returncode=64)
        Outcome = InboundMessage.Outcome
        waiting = Q(outcome=Outcome.QUARANTINED) | Q(
            outcome=Outcome.PENDING, received_at__lt=timezone.now() - PENDING_AGE
        )
        rows = InboundMessage.objects.filter(waiting).order_by("id")
        if ids:
            rows = InboundMessage.objects.filter(
                pk__in=ids, outcome__in=[Outcome.QUARANTINED, Outcome.PENDING]
            ).order_by("id")
            missing = set(ids) - set(rows.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    f"not quarantined or pending: {', '.join(map(str, sorted(missing)))}",
                    returncode=64,
                )
        todo = list(rows.values_list("pk", flat=True))
        tty = sys.stderr.isatty()
        counts: dict[str, int] = {}
        for number, pk in enumerate(todo, 1):
            row = InboundMessage.objects.get(pk=pk)
            try:
                outcome = reprocess(row).outcome
            except InboundError as exc:
                raise CommandError(
                    f"stopped at #{pk}: {exc} (try again later)", returncode=75
                ) from None
            counts[outcome] = counts.get(outcome, 0) + 1
            if tty:
                width = 30
                filled = width * number // len(todo)
                sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {number}/{len(todo)}")
                sys.stderr.flush()
        if tty and todo:
            sys.stderr.write("\n")
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"re-processed {len(todo)}: {summary}")

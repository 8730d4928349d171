"""Ticket references, HD-YYYY-NNNN: unique, never reused, safe under concurrency."""

import re

from django.db import IntegrityError, transaction
from django.db.models import F

REFERENCE_RE = re.compile(r"\bHD-(\d{4})-(\d{4,})\b", re.IGNORECASE)


def format_reference(year: int, number: int) -> str:
    return f"HD-{year}-{number:04d}"


def parse_reference(text: str) -> str | None:
    """The first reference found in text, normalised to upper case."""
    match = REFERENCE_RE.search(text)
    return f"HD-{match.group(1)}-{match.group(2)}" if match else None


def next_reference(year: int) -> str:
    """Take the next number of the year's counter.

    Must run inside the transaction that creates the ticket. The UPDATE takes a
    row lock (PostgreSQL) or the database write lock (SQLite, IMMEDIATE
    transactions), so concurrent creators queue on the counter and each reads
    back its own value; a rolled-back creator releases its number with the lock,
    and a committed one is never handed out again.
    """
    from tickets.models import ReferenceCounter

    assert transaction.get_connection().in_atomic_block, "next_reference needs a transaction"
    updated = ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1)
    if not updated:
        try:
            with transaction.atomic():
                ReferenceCounter.objects.create(year=year, last=1)
            return format_reference(year, 1)
        except IntegrityError:
            # Another process created the year's row first: take a number from it.
            ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1)
    number = ReferenceCounter.objects.values_list("last", flat=True).get(year=year)
    return format_reference(year, number)

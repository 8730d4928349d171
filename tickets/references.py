"""Ticket references, HD-YYYY-NNNN: unique, never reused, safe under concurrency."""

import re

from django.db import IntegrityError, transaction

REFERENCE_RE = re.compile(r"\bHD-(\d{4})-(\d{4,})\b", re.IGNORECASE)


_TAKE_NUMBER = (
    'UPDATE "tickets_referencecounter" SET "last" = "last" + 1 WHERE "year" = %s RETURNING "last"'
)


def format_reference(year: int, number: int) -> str:
    return f"HD-{year}-{number:04d}"


def parse_reference(text: str) -> str | None:
    """The first reference found in text, normalised to upper case."""
    match = REFERENCE_RE.search(text)
    return f"HD-{match.group(1)}-{match.group(2)}" if match else None


# A reference as a subject tag: "[HD-2026-0001]", "(HD-2026-0001)" or bare.
_TAG_RE = re.compile(r"[\[(]?\s*\bHD-\d{4}-\d{4,}\b\s*[\])]?", re.IGNORECASE)
# What mail programs put before an answered or forwarded subject, in the
# languages our customers write in.
_PREFIX_RE = re.compile(r"^(?:\s*(?:re|fwd?|res|enc|aw|wg|rv)\s*:)+\s*", re.IGNORECASE)


def strip_references(subject: str) -> str:
    """subject without the ticket references it names (and their brackets),
    nor the Re:/Fwd: before them: the subject of a new ticket opened by a mail
    that answered another one, so our mails about it carry only its own
    reference. A subject naming none is returned as it is."""
    if not REFERENCE_RE.search(subject):
        return subject
    stripped = _PREFIX_RE.sub("", _TAG_RE.sub(" ", subject))
    return " ".join(stripped.split())


def next_reference(year: int) -> str:
    """Take the next number of the year's counter.

    Must run inside the transaction that creates the ticket. The UPDATE takes a
    row lock (PostgreSQL) or the database write lock (SQLite, IMMEDIATE
    transactions), so concurrent creators queue on the counter and each reads
    back its own value; a rolled-back creator releases its number with the lock,
    and a committed one is never handed out again.
    """
    from tickets.models import ReferenceCounter

    connection = transaction.get_connection()
    assert connection.in_atomic_block, "next_reference needs a transaction"
    with connection.cursor() as cursor:
        # One statement takes the number and reads it back (SQLite >= 3.35 and
        # PostgreSQL both have UPDATE ... RETURNING).
        cursor.execute(_TAKE_NUMBER, [year])
        row = cursor.fetchone()
    if row is not None:
        return format_reference(year, row[0])
    try:
        with transaction.atomic():
            ReferenceCounter.objects.create(year=year, last=1)
        return format_reference(year, 1)
    except IntegrityError:
        # Another process created the year's row first: take a number from it.
        return next_reference(year)


def counter_status(*, using: str = "default") -> list[tuple[int, int, int]]:
    """(year, counter, highest number a ticket of that year carries), by year.

    A counter below its year's highest number would hand out a reference that
    exists: restore checks this after loading a backup.
    """
    from tickets.models import ReferenceCounter, Ticket

    highest: dict[int, int] = {}
    tickets = Ticket.objects.using(using).values_list("reference", flat=True)
    for reference in tickets.iterator(chunk_size=2000):
        match = REFERENCE_RE.fullmatch(reference)
        if match:
            year, number = int(match.group(1)), int(match.group(2))
            highest[year] = max(highest.get(year, 0), number)
    counters = dict(ReferenceCounter.objects.using(using).values_list("year", "last"))
    return [
        (year, counters.get(year, 0), highest.get(year, 0))
        for year in sorted(set(highest) | set(counters))
    ]

import multiprocessing
import os

import pytest
from django.db import connections

from tickets.references import format_reference, parse_reference

PROCESSES = 4
TICKETS_EACH = 50


def test_it_formats_with_at_least_four_digits() -> None:
    assert format_reference(2026, 7) == "HD-2026-0007"
    assert format_reference(2026, 12345) == "HD-2026-12345"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Re: [HD-2026-0042] Impressora", "HD-2026-0042"),
        ("RES: hd-2026-0042 ajuda", "HD-2026-0042"),
        ("Fwd: HD-2026-12345", "HD-2026-12345"),
        ("HD-2026-12 is too short", None),
        ("no reference", None),
    ],
)
def test_it_parses_references(text: str, expected: str | None) -> None:
    assert parse_reference(text) == expected


def _create_tickets(worker: int, db_name: str, results: "multiprocessing.Queue[object]") -> None:
    """Runs in a fresh (spawned) interpreter against the test database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    connections["default"].settings_dict["NAME"] = db_name
    from helpdesk.models import User
    from tickets import services

    try:
        requester = User.objects.get(email="load@example.com")
        refs = [
            services.ticket_create(
                requester=requester, subject=f"w{worker} #{i}", body="x"
            ).reference
            for i in range(TICKETS_EACH)
        ]
        results.put(refs)
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_it_hands_out_distinct_references_across_processes() -> None:
    from helpdesk.accounts import user_create
    from tickets.models import Ticket

    user_create(email="load@example.com")
    db_name = str(connections["default"].settings_dict["NAME"])
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[object] = ctx.Queue()
    workers = [
        ctx.Process(target=_create_tickets, args=(n, db_name, results)) for n in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    errors = [o for o in outcomes if isinstance(o, str)]
    assert errors == []
    references = [ref for refs in outcomes for ref in refs]  # type: ignore[union-attr]
    assert len(references) == PROCESSES * TICKETS_EACH
    assert len(set(references)) == len(references)
    assert Ticket.objects.count() == PROCESSES * TICKETS_EACH
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == list(range(1, PROCESSES * TICKETS_EACH + 1))


@pytest.mark.django_db(transaction=True)
def test_it_never_reuses_a_number_after_a_delete() -> None:
    from helpdesk.accounts import user_create
    from tickets import services

    user = user_create(email="x@example.com")
    first = services.ticket_create(requester=user, subject="one", body="x")
    first.delete()
    second = services.ticket_create(requester=user, subject="two", body="x")
    assert second.reference != first.reference

"""B3 (issue 16): structure bombs through the real doors.

Each mail built to exhaust a parser (1,000-deep multipart nesting, 10,000
parts, 100,000 addresses, nested CFWS comments, one huge header line, a huge
header count, a zip bomb and a nested zip attached, a 100k-element and a
deeply nested HTML body) goes through `manage.py ingest_email` in a child
process, as an MTA's pipe delivers it, and a few through a fresh `manage.py
smtpd`. Each child is measured by the kernel (wall time, peak RSS from wait4
or VmHWM). Checked: answered (exit 0 / 250), stored or quarantined with a
reason and its raw bytes (never dropped), under 5 s and 300 MB, and the
ticket page that shows a stored HTML bomb renders.

Light: every case, at sizes that keep the pass short; `--heavy`: the
catalogue's sizes (a 50 MB header line, a 1 GB zip bomb).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from mailgateway.health import quarantine_probe
from mailgateway.models import InboundMessage
from tests.abuse import bombs
from tests.abuse.bombs import door_env  # noqa: F401 (fixture)
from tests.faults.conftest import child_env  # noqa: F401 (fixture)
from tests.mailgateway.conftest import _raw_dir  # noqa: F401 (autouse fixture)
from tickets.models import Attachment, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MB = 1024 * 1024
# The bounds the issue names; the light sizes leave a wide margin under them.
MAX_SECONDS = 5.0
MAX_RSS_MB = 300.0

Build = Callable[[Any], bytes]

CASES: dict[str, tuple[Build, tuple[int, int]]] = {
    # name: (builder of a size, (light size, heavy size))
    "deep-multipart": (bombs.deep_multipart, (1000, 1000)),
    "many-parts": (bombs.many_parts, (10_000, 10_000)),
    "many-addresses": (bombs.many_addresses, (100_000, 100_000)),
    "nested-comments": (bombs.nested_comments, (50_000, 500_000)),
    "long-header": (bombs.long_header_line, (5 * MB, 50 * MB)),
    "many-headers": (bombs.many_headers, (100_000, 100_000)),
    "html-elements": (bombs.html_elements, (100_000, 100_000)),
    "html-nesting": (bombs.html_nesting, (10_000, 100_000)),
    # Just under the sanitiser's element cap: kept as HTML, and every view
    # of the ticket sanitises it again.
    "html-at-the-cap": (bombs.html_elements, (14_900, 14_900)),
}

# What each becomes: a ticket (the parser copes) or the quarantine, and why.
EXPECTED = {
    "deep-multipart": ("quarantined", "nesting too deep"),
    "many-parts": ("created", ""),
    "many-addresses": ("quarantined", "to header of"),
    "nested-comments": ("quarantined", "from header of"),
    "long-header": ("quarantined", "header block of"),
    "many-headers": ("quarantined", "header fields"),
    "html-elements": ("created", ""),
    "html-nesting": ("created", ""),
    "html-at-the-cap": ("created", ""),
}


def built(case: str, scale: Any) -> tuple[int, bytes]:
    build, (light, heavy) = CASES[case]
    size = scale(light, heavy)
    return size, build(size)


def assert_bounded(run: bombs.Run, what: str) -> None:
    assert run.seconds < MAX_SECONDS, f"{what}: {run.seconds:.1f} s"
    assert run.rss_mb < MAX_RSS_MB, f"{what}: {run.rss_mb:.0f} MB"


def page_render(reference: str, admin: Any) -> tuple[float, float, str]:
    """The ticket page and its thread fragment, in this process: seconds,
    Python's peak allocation (MB) and the page."""
    client = Client()
    client.force_login(admin)
    tracemalloc.start()
    started = time.monotonic()
    try:
        page = client.get(f"/tickets/{reference}/")
        thread = client.get(f"/tickets/{reference}/thread/")
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()
    assert page.status_code == 200 and thread.status_code == 200
    return seconds, peak, page.content.decode()


def test_structure_bombs_through_the_pipe_are_answered_stored_and_bounded(
    door_env: dict[str, str],  # noqa: F811
    _raw_dir: Path,  # noqa: F811
    tmp_path: Path,
    scale: Any,
    figures: Any,
    admin_user: Any,
) -> None:
    """Every case, each in a child of its own, in one test: one database
    flush for all (a flush per case cost PostgreSQL's pass 15 s). A case that
    fails does not stop the others; all failures are listed at the end."""
    failures = []
    for case in CASES:
        try:
            through_the_pipe(case, door_env, _raw_dir, tmp_path, scale, figures, admin_user)
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
    assert failures == [], "\n".join(failures)


def through_the_pipe(
    case: str,
    env: dict[str, str],
    raw_dir: Path,
    tmp_path: Path,
    scale: Any,
    figures: Any,
    admin: Any,
) -> None:
    size, raw = built(case, scale)
    if len(raw) > 20 * MB:
        # The heavy 50 MB header line: the limit raised so the mail reaches
        # the parser (at the default 25 MB the pipe refuses it unread, 65).
        env = {**env, "HELPDESK_MAX_MESSAGE_MB": "64"}
    run = bombs.pipe(env, raw, tmp_path)
    assert run.code == 0, run.err
    row = bombs.stored_row(raw, raw_dir)
    values = bombs.figures_of(run, row, case=case, size=size, mail_bytes=len(raw))
    page = ""
    if case.startswith("html") and row.ticket_id:
        ticket = Ticket.objects.get(pk=row.ticket_id)
        seconds, peak, page = page_render(ticket.reference, admin)
        message = ticket.messages.get()
        values.update(
            page_seconds=round(seconds, 2),
            page_alloc_mb=round(peak, 1),
            html_kept=bool(message.body_html),
        )
    figures(values)
    outcome, reason = EXPECTED[case]
    assert (row.outcome, reason in row.error) == (outcome, True), row.error
    quarantined = InboundMessage.objects.filter(outcome="quarantined").count()
    assert quarantine_probe()["quarantined"] == quarantined  # what /healthz and System count
    if page:
        assert ticket.subject in page
        # Never the body lost: the HTML, or (refused) its text version.
        assert message.body_html.count("<p>") == size if case == "html-at-the-cap" else True
        assert "fundo" in message.body if case == "html-nesting" else f"{size - 1}" in message.body
        # ... and shown: the page holds the last element's text (the HTML in
        # its frame's srcdoc, escaped once more).
        assert ("fundo" if case == "html-nesting" else f"{size - 1}") in page
        assert seconds < MAX_SECONDS, f"the ticket page took {seconds:.1f} s"
    assert_bounded(run, case)


def test_a_zip_bomb_and_a_nested_zip_are_kept_as_files_never_expanded(
    door_env: dict[str, str],  # noqa: F811
    _raw_dir: Path,  # noqa: F811
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    expanded = scale(100, 1024) * MB
    bomb = bombs.zip_of_zeros(expanded)
    nested = bombs.nested_zip(bomb, 10)
    raw = bombs.with_attachments(
        "zip-bomb",
        [("zeros.zip", "application/zip", bomb), ("camadas.zip", "application/zip", nested)],
    )
    run = bombs.pipe(door_env, raw, tmp_path)
    assert run.code == 0, run.err
    row = bombs.stored_row(raw, _raw_dir)
    assert row.outcome == "created"
    files = {a.original_name: a for a in Attachment.objects.all()}
    assert set(files) == {"zeros.zip", "camadas.zip"}
    # Stored as the bytes that came, not a byte more: nothing was expanded.
    assert files["zeros.zip"].file.read() == bomb and files["camadas.zip"].size == len(nested)
    figures(
        bombs.figures_of(
            run,
            row,
            case="zip-bomb",
            expands_to_mb=expanded // MB,
            nested_expands_to_mb=10 * expanded // MB,
            mail_bytes=len(raw),
        )
    )
    assert_bounded(run, "zip bomb")


@pytest.mark.parametrize("case", ["many-parts", "many-addresses"])
def test_a_structure_bomb_through_the_smtp_listener_is_answered_and_bounded(
    case: str,
    door_env: dict[str, str],  # noqa: F811
    _raw_dir: Path,  # noqa: F811
    tmp_path: Path,
    scale: Any,
    figures: Any,
) -> None:
    size, raw = built(case, scale)
    with bombs.listener(door_env, tmp_path) as server:
        run = server.send(raw)
        # 250 comes after the commit; the processing may follow it.
        bombs.wait_processed(1)
        run.rss_mb = server.peak_rss_mb()
    assert run.code == 250, run.replies
    row = bombs.stored_row(raw, _raw_dir)
    assert row.outcome == EXPECTED[case][0]
    figures(bombs.figures_of(run, row, case=case, door="smtp", size=size, mail_bytes=len(raw)))
    assert_bounded(run, case)

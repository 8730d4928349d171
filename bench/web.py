"""Web benchmark: the ticket list and a long ticket page on 100,000 tickets.

Run on demand (not in CI):

    .venv/bin/python bench/web.py                       # SQLite in a fresh data dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_bench .venv/bin/python bench/web.py

It fills the database (100,000 tickets, 500,000 messages of pt-BR/English
text, one ticket with a 200-message thread) unless it already holds the
bench data (then it reuses it: pass --data-dir to keep a SQLite fill), logs
in as an agent with Django's test Client, warms up, then times each page
and prints p50/p99, the SQL queries per page and the query plan of the
list's main query. It refuses a database that has other tickets in it.
--ingest N also times N ticket_create + 2 x ticket_reply_add with and
without the search index maintenance. --direct times the selectors and
search without the views (for when the pages do not exist yet). --reports
times the reports dashboard and its CSV instead, as a manager, after adding
status events and ratings to the bench data (once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup(data_dir: Path) -> None:
    os.environ["HELPDESK_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DEBUG"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _time(action: Callable[[], Any], *, warmup: int, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds per run. The CPU time
    says what a request costs when the machine is shared (it leaves out a
    PostgreSQL server's own work)."""
    for _ in range(warmup):
        action()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _plan(sql: str, params: Any) -> list[str]:
    from django.db import connection

    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "sqlite":
        return [str(row[-1]) for row in rows]
    return [str(row[0]) for row in rows]


def _main_query(queries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ticket list's SELECT (the one with LIMIT on tickets_ticket), if any."""
    for query in queries:
        sql = query["sql"]
        if "tickets_ticket" in sql and "LIMIT" in sql and sql.lstrip().startswith("SELECT"):
            return query
    return None


def _report(
    name: str, timings: tuple[list[float], list[float]], goal: float, extra: str = ""
) -> str:
    wall, cpu = timings
    p50, p99 = statistics.median(wall), _percentile(wall, 0.99)
    verdict = "ok" if p50 < goal else "SLOW"
    return (
        f"| {name} | {p50:.1f} | {p99:.1f} | {statistics.median(cpu):.1f} | {goal:.0f} | {verdict}"
        f" | {extra} |"
    )


def bench_pages(filled: Any, *, warmup: int, runs: int, show_plans: bool) -> list[str]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from helpdesk.models import User

    client = Client()
    client.force_login(User.objects.get(pk=filled.agent_id))
    tickets = reverse("ticket_list")
    pages = [
        ("list, no filter", tickets, 50.0),
        (
            "list, 3 filters (status, priority, team)",
            f"{tickets}?status=open&status=in_progress&priority=high&team={filled.team_id}",
            50.0,
        ),
        ("list, sort by created", f"{tickets}?sort=-created", 50.0),
        ("list, sort by priority", f"{tickets}?sort=-priority", 50.0),
        ("list, mine", f"{tickets}?mine=on", 50.0),
        ("list, search 'impressora'", f"{tickets}?q=impressora", 50.0),
        ("list, search 'orcamento aprovado'", f"{tickets}?q=orcamento+aprovado", 50.0),
        ("list, search prefix 'certific'", f"{tickets}?q=certific", 50.0),
        ("list, search by reference", f"{tickets}?q={filled.big_reference}", 50.0),
        ("list, search + 2 filters", f"{tickets}?q=invoice&status=closed&priority=low", 50.0),
        ("list, htmx fragment, filter", f"{tickets}?status=open", 50.0),
        ("ticket page, 200 messages", f"/tickets/{filled.big_reference}/", 80.0),
    ]
    lines = []
    for name, url, goal in pages:
        headers = {"HX-Request": "true"} if "htmx" in name else {}

        def get(url: str = url, headers: dict[str, str] = headers) -> None:
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")

        reset_queries()  # a request start empties the log, so start from empty
        with CaptureQueriesContext(connection) as captured:
            get()
        # A copy: captured_queries reads the live log, which the next request empties.
        queries = list(captured.captured_queries)
        timings = _time(get, warmup=warmup, runs=runs)
        lines.append(_report(name, timings, goal, f"{len(queries)} queries"))
        main = _main_query(queries)
        if show_plans and main is not None and "ticket page" not in name:
            plan = _plan_of_captured(main["sql"])
            lines.append(f"|  plan | {' / '.join(plan)} | | | | | |")
    return lines


def bench_reports(*, warmup: int, runs: int) -> list[str]:
    """The reports dashboard and its CSV, as a manager (goal: p50 < 200 ms)."""
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from webdata import fill_report_extras

    from helpdesk.accounts import user_create
    from helpdesk.models import User
    from tickets.models import Team

    fill_report_extras()
    manager = User.objects.filter(email="manager@support.example").first() or user_create(
        email="manager@support.example", full_name="Gerente", role="manager"
    )
    client = Client()
    client.force_login(manager)
    team = Team.objects.get(name="Suporte").pk
    pages = [
        ("reports, 90 days", "/reports/?period=90"),
        ("reports, 30 days", "/reports/?period=30"),
        ("reports, 90 days, team + channel", f"/reports/?period=90&team={team}&channel=email"),
        ("reports CSV, 90 days", "/reports/export.csv?period=90"),
    ]
    lines = []
    for name, url in pages:

        def get(url: str = url) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")

        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            get()
        count = len(captured.captured_queries)
        lines.append(_report(name, _time(get, warmup=warmup, runs=runs), 200.0, f"{count} queries"))
    return lines


def _plan_of_captured(sql: str) -> list[str]:
    # Captured SQL has its parameters inlined already, so it runs as is.
    return _plan(sql, None)


def bench_direct(filled: Any, *, warmup: int, runs: int) -> list[str]:
    """Selectors and search without the views: page 1 of 25 plus the count."""
    from django.core.paginator import Paginator

    from helpdesk.models import User
    from tickets import selectors
    from tickets.search import search_tickets

    agent = User.objects.get(pk=filled.agent_id)
    base = selectors.ticket_list(user=agent)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("selectors: no filter", lambda: base.order_by("-updated_at", "-id")),
        (
            "selectors: 3 filters",
            lambda: base.filter(
                status__in=["open", "in_progress"], priority="high", team_id=filled.team_id
            ).order_by("-updated_at", "-id"),
        ),
        ("selectors: sort by created", lambda: base.order_by("-created_at", "-id")),
        ("search: 'impressora'", lambda: search_tickets(base, "impressora", include_notes=True)),
        ("search: 'orcamento aprovado'", lambda: search_tickets(base, "orcamento aprovado")),
        ("search: prefix 'certific'", lambda: search_tickets(base, "certific")),
    ]
    lines = []
    for name, build in cases:

        def run(build: Callable[[], Any] = build) -> None:
            page = Paginator(build(), 25).get_page(1)
            list(page.object_list)
            _ = page.paginator.num_pages

        lines.append(_report(name, _time(run, warmup=warmup, runs=runs), 50.0))
    return lines


def bench_ingest(filled: Any, count: int) -> list[str]:
    """ticket_create + two replies, count times, with and without search triggers."""
    from webdata import Text, search_rebuild, search_triggers_off, search_triggers_on

    from helpdesk.models import User
    from tickets import services
    from tickets.models import Ticket

    text = Text(seed=11)
    customer = User.objects.filter(role="customer").first()
    agent = User.objects.get(pk=filled.agent_id)

    def ingest() -> tuple[float, list[int]]:
        ids = []
        started = time.perf_counter()
        for number in range(count):
            portuguese = number % 3 != 0
            ticket = services.ticket_create(
                requester=customer,
                subject=text.subject(portuguese),
                body=text.body(portuguese),
                source="email",
            )
            services.ticket_reply_add(ticket=ticket, author=agent, body=text.body(portuguese))
            services.ticket_reply_add(ticket=ticket, author=customer, body=text.body(portuguese))
            ids.append(ticket.pk)
        return time.perf_counter() - started, ids

    ingest()  # warm-up, with the index
    with_index, _ = ingest()
    restore = search_triggers_off()
    try:
        without_index, unindexed = ingest()
    finally:
        search_triggers_on(restore)
    search_rebuild(unindexed)
    assert Ticket.objects.filter(pk__in=unindexed).count() == count
    per = 1000 / (3 * count)
    return [
        f"ingest of {count} tickets x (create + 2 replies): "
        f"with search index {with_index:.2f} s ({with_index * per:.2f} ms per write), "
        f"without {without_index:.2f} s ({without_index * per:.2f} ms per write), "
        f"ratio {with_index / without_index:.2f}"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="SQLite data dir to fill or reuse")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--ingest", type=int, default=0, metavar="N")
    parser.add_argument("--direct", action="store_true", help="time selectors and search only")
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument("--reports", action="store_true", help="time the reports dashboard only")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hd-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    _setup(data_dir)

    from django.db import connection
    from webdata import Filled, Sizes, fill

    from tickets.models import Ticket

    sizes = Sizes(tickets=args.tickets, messages=args.messages)
    existing = Ticket.objects.count()
    started = time.perf_counter()
    if existing == 0:
        filled = fill(sizes)
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)
    else:
        # The long thread is on the last ticket of the fill.
        big = Ticket.objects.filter(pk=args.tickets).values_list("reference", flat=True).first()
        from helpdesk.models import User
        from tickets.models import Team

        agent = User.objects.filter(email="agent0@support.example").first()
        if agent is None or big is None or existing < args.tickets:
            print("this database already holds other tickets; use an empty one", file=sys.stderr)
            return 2
        filled = Filled(
            agent_id=agent.pk, big_reference=big, team_id=Team.objects.get(name="Suporte").pk
        )
    where = connection.settings_dict["NAME"]
    print(
        f"## {connection.vendor} ({where}), {Ticket.objects.count():,} tickets, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| what | p50 ms | p99 ms | CPU p50 ms | goal p50 | | notes |\n"
        "|---|---|---|---|---|---|---|"
    )
    if args.reports:
        lines = bench_reports(warmup=args.warmup, runs=args.runs)
    elif args.direct:
        lines = bench_direct(filled, warmup=args.warmup, runs=args.runs)
    else:
        lines = bench_pages(
            filled, warmup=args.warmup, runs=args.runs, show_plans=not args.no_plans
        )
    for line in lines:
        print(line, flush=True)
    if args.ingest:
        for line in bench_ingest(filled, args.ingest):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A7 (issue 16): a crawl with GETs changes no row.

As each role (customer, agent, manager, admin; signed in before the first
snapshot, so the login's own writes are not counted) the crawler starts at
the dashboard and follows every same-site link (href, src, the htmx
fragments' hx-get, sent with HX-Request as htmx does) on every page it
reaches, the admin included for the admin: GET only, deduplicated by URL
pattern, its arguments and the names of its query parameters, bounded per
role. After every page a checksum of every table's rows must be what it was
before the crawl, and no page may answer 5xx.

The world is tests/access/world.py's: two teams' tickets with notes,
attachments, HTML mail, notifications (unread), drafts, saved views.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve

from helpdesk.models import AuditEntry
from tests.access.world import World, build_world, changed_tables, table_checksums

pytestmark = pytest.mark.django_db

ROLES = {"customer": "customer_a", "agent": "agent_x", "manager": "manager", "admin": "admin"}
LINK = re.compile(r'\b(href|src|hx-get)="([^"]+)"')
SKIP_PREFIXES = ("/static/", "/media/")
# The one write a GET may make, and why. RFC 9110 9.2.1: a safe method may
# have side effects the user did not ask for and is not accountable for, such
# as logging. A report export is personal data leaving the helpdesk: the
# audit trail records who took it (helpdesk.audit, action "export"); the
# trail is append-only and changes nothing anyone reads as state.
ALLOWED_WRITES = {"reports/export.csv": ("helpdesk_auditentry", "export")}
CHECKSUM_EVERY = 10  # pages
# /healthz answers 503 while a probe fails (no worker heartbeat in a test).
EXPECTED_5XX = {"healthz": 503}


def page_key(url: str) -> tuple[Any, ...] | None:
    """The URL pattern, its arguments and the names of its query parameters:
    the same list sorted or filtered another way is the same page."""
    parts = urlsplit(url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    names = tuple(sorted({name for name, _value in parse_qsl(parts.query)}))
    return (match.route, tuple(sorted(match.kwargs.items())), names)


def links_in(base: str, html: str) -> list[tuple[str, bool]]:
    """(same-site URL, is an htmx fragment) for every link on the page."""
    found = []
    for attribute, raw in LINK.findall(html):
        url = urljoin(base, raw.replace("&amp;", "&")).split("#")[0]
        parts = urlsplit(url)
        if parts.scheme not in {"", "http"} or parts.netloc not in {"", "testserver"}:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith(SKIP_PREFIXES) or not path.startswith("/"):
            continue
        found.append((path, attribute == "hx-get"))
    return found


def allowed_writes(batch: list[tuple[str, str]], tables: list[str], audit_before: int) -> bool:
    """The pages' writes are exactly the audit rows they are allowed."""
    expected = [ALLOWED_WRITES[route][1] for _url, route in batch if route in ALLOWED_WRITES]
    if not expected or tables != ["helpdesk_auditentry"]:
        return False
    new = AuditEntry.objects.order_by("pk")[audit_before:]
    return sorted(entry.action for entry in new) == sorted(expected)


class Ledger:
    """Table checksums taken every few pages (a checksum is a query per
    table), and what changed between two, allowed writes aside."""

    def __init__(self) -> None:
        self.before = table_checksums()
        self.audit_before = AuditEntry.objects.count()
        self.batch: list[tuple[str, str]] = []
        self.changed: list[str] = []

    def visited(self, url: str, route: str) -> None:
        self.batch.append((url, route))
        if len(self.batch) == CHECKSUM_EVERY:
            self.check()

    def check(self) -> None:
        now = table_checksums()
        if now != self.before:
            tables = changed_tables(self.before, now)
            if not allowed_writes(self.batch, tables, self.audit_before):
                urls = [url for url, _route in self.batch]
                self.changed.append(f"one of GET {urls} changed {tables}")
        self.before, self.batch = now, []
        self.audit_before = AuditEntry.objects.count()


def crawl(world: World, actor: str, limit: int, variants: int) -> dict[str, Any]:
    """BFS from the dashboard; at most `variants` query-parameter sets per
    page (a list sorted, filtered, paged ...) so the bound buys breadth."""
    client = world.client(actor)
    ledger = Ledger()
    queue: deque[tuple[str, bool]] = deque([("/", False)])
    seen: set[tuple[Any, ...]] = set()
    per_page: Counter[tuple[Any, ...]] = Counter()
    pages = fragments = 0
    errors: list[str] = []
    while queue and pages < limit:
        url, fragment = queue.popleft()
        key = page_key(url)
        if key is None or (key, fragment) in seen or per_page[key[:2]] >= variants:
            continue
        seen.add((key, fragment))
        per_page[key[:2]] += 1
        headers = {"HX-Request": "true"} if fragment else {}
        response = client.get(url, headers=headers)
        pages += 1
        fragments += fragment
        route = key[0]
        ledger.visited(url, route)
        if response.status_code >= 500 and EXPECTED_5XX.get(route) != response.status_code:
            errors.append(f"GET {url}: {response.status_code}")
        if response.status_code in {301, 302} and response.get("Location", "").startswith("/"):
            queue.append((response["Location"], False))
        if "html" in response.get("Content-Type", "") and not getattr(response, "streaming", 0):
            queue.extend(links_in(url, response.content.decode("utf-8", "replace")))
    ledger.check()
    left = {page_key(u) for u, _f in queue} - {k for k, _f in seen} - {None}
    return {
        "pages": pages,
        "admin_pages": sum(1 for key, _f in seen if key[0].startswith("admin/")),
        "routes": len({key[0] for key, _f in seen}),
        "fragments": fragments,
        "left": len(left),
        "changed": ledger.changed,
        "errors": errors,
    }


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_crawl_changes_no_row(settings: Any, scale: Any, figures: Any, role: str) -> None:
    world = build_world(settings)
    result = crawl(world, ROLES[role], limit=scale(150, 3000), variants=scale(2, 50))
    figures(
        {
            "role": role,
            "pages_crawled": result["pages"],
            "routes": result["routes"],
            "admin_pages": result["admin_pages"],
            "htmx_fragments": result["fragments"],
            "pages_left_unvisited": result["left"],
            "pages_that_changed_rows": len(result["changed"]),
            "5xx": len(result["errors"]),
        }
    )
    assert not result["errors"], "\n".join(result["errors"])
    assert not result["changed"], "\n".join(result["changed"])
    assert not result["errors"], "\n".join(result["errors"])
    assert result["pages"] >= 10, "the crawl found almost nothing: is the dashboard there?"

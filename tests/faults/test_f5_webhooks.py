"""F5, webhooks: a real `manage.py db_worker` delivers signed ticket events
to real HTTP receivers on loopback that misbehave, while the worker is
SIGKILLed in the middle of a delivery and started again.

The receivers: one answers 500 twice per event, then 200; one is down (no
listener) for a few seconds; one answers only after the worker's read timeout
(the first time per event); one always answers 500; one redirects to itself;
one redirects (307) to another receiver on loopback; one holds a request while
the test kills the worker. And one endpoint is on loopback without
`allow_private`, which the SSRF guard (outbound/netguard.py) must refuse.

Checked: each event that can be delivered is answered 2xx at least once;
failures are retried with backoff (the gaps between attempts at least the
schedule's), and bounded (the always-500 endpoint gets exactly
HELPDESK_OUTBOX_MAX_ATTEMPTS tries, then the row fails); redirects are never
followed (the 3xx is a permanent failure: one request, the target never
reached) and the private address is never connected to; every retry carries
the same delivery id and body (receivers dedupe on them) with a fresh
timestamp and a signature that verifies; a repeat of an event the receiver
already took happens only for a kill (at most one per kill) or an answer that
came after the timeout. The suite counts them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from outbound import webhooks
from outbound.conf import webhook_timeout
from outbound.models import OutboxItem, WebhookEndpoint
from tests.faults import ledger
from tickets import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = OutboxItem.Status
BACKOFF = (1, 2, 4)
MAX_ATTEMPTS = 4
SECRET = "f5-webhook-secret"


@dataclass
class Hit:
    path: str
    delivery: str
    body: str
    timestamp: str
    signature: str
    at: float
    status: int  # what the receiver answered (or would have: a late or a held answer)


@dataclass
class Receivers:
    """What every receiver got. `stall` arms /stall to hold its next request
    (`stalled` is set meanwhile) so the test can kill the worker."""

    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stall: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    late: float = webhook_timeout()[1] + 1.5  # past the worker's read timeout

    def by(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]


def _server(receivers: Receivers, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path, delivery = self.path, self.headers.get("X-Helpdesk-Delivery", "")
            with receivers.lock:
                receivers.seen[path, delivery] += 1
                nth = receivers.seen[path, delivery]
            status, wait, location = 200, 0.0, ""
            if path == "/flaky":
                status = 500 if nth <= 2 else 200
            elif path == "/always-500":
                status = 500
            elif path == "/slow" and nth == 1:
                wait = receivers.late
            elif path == "/redirect-self":
                status, location = 302, str(getattr(self.server, "own", ""))
            elif path == "/redirect-other":
                status, location = 307, str(getattr(self.server, "other", ""))
            elif path == "/stall" and receivers.stall.is_set():
                receivers.stall.clear()
                receivers.stalled.set()  # taken: the worker dies before it hears so
                wait = 8.0
            hit = Hit(
                path,
                delivery,
                body.decode(),
                self.headers.get("X-Helpdesk-Timestamp", ""),
                self.headers.get("X-Helpdesk-Signature", ""),
                time.monotonic(),
                status,
            )
            with receivers.lock:
                receivers.hits.append(hit)
            time.sleep(wait)
            try:
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the worker gave up (timeout) or was killed

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


PATHS = ("/flaky", "/down", "/slow", "/always-500", "/redirect-self", "/redirect-other", "/stall")


def test_webhooks_reach_their_receivers_through_faults_and_worker_kills(
    tmp_path: Path, settings: Any, scale: Any, figures: Any, child_env: dict[str, str]
) -> None:
    events, kills_wanted = scale(2, 10), scale(1, 5)
    receivers = Receivers()
    main, target = _server(receivers), _server(receivers)
    main.other = f"http://127.0.0.1:{target.server_address[1]}/target"  # type: ignore[attr-defined]
    down_port = ledger.free_port()  # nothing listens there yet
    base = f"http://127.0.0.1:{main.server_address[1]}"
    main.own = f"{base}/redirect-self"  # type: ignore[attr-defined]
    endpoints = {
        path: WebhookEndpoint.objects.create(
            name=path.strip("/"),
            url=(f"http://127.0.0.1:{down_port}{path}" if path == "/down" else base + path),
            events=["reply.added"],
            secret=SECRET,
            allow_private=True,  # the receivers are on 127.0.0.1
        )
        for path in PATHS
    }
    guarded = WebhookEndpoint.objects.create(
        name="guarded", url=f"{base}/guarded", events=["reply.added"], secret=SECRET
    )
    customer = user_create(
        email="carla@cliente.com.br", full_name="Carla", role=Role.CUSTOMER, password="x" * 12
    )
    ticket = services.ticket_create(requester=customer, subject="Pedido", body="x")
    # The stall endpoint gets one event per kill and one more, the others `events`.
    for endpoint in [*endpoints.values(), guarded]:
        for _ in range(kills_wanted + 1 if endpoint.name == "stall" else events):
            data = webhooks.ticket_payload(ticket, "reply.added")
            webhooks.enqueue_webhook(endpoint, data, ticket)
    hooks = OutboxItem.objects.filter(kind=OutboxItem.Kind.WEBHOOK)

    env = {
        **child_env,
        "HELPDESK_OUTBOX_BACKOFF": ",".join(map(str, BACKOFF)),  # seconds here, not minutes
        "HELPDESK_OUTBOX_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "HELPDESK_OUTBOX_SENDING_TIMEOUT": "30",  # the floor: a dead worker's row waits that long
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    log = tmp_path / "worker.log"

    def start() -> Any:
        return ledger.manage(
            env, "db_worker", "--no-startup-delay", "--interval", "0.2", "-v", "0", log=log
        )

    worker = start()
    kills, down = 0, None
    started = time.monotonic()
    deadline = started + 600  # a hang guard, not a timing assertion
    try:
        while kills < kills_wanted:
            receivers.stall.set()
            while not receivers.stalled.wait(0.1):
                assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            receivers.stalled.clear()
            ledger.kill_group(worker)  # mid-delivery: the receiver took the event
            kills += 1
            worker = start()
        while time.monotonic() < started + 4:
            time.sleep(0.1)
        down = _server(receivers, down_port)  # the down receiver comes up
        settled = {Status.SENT, Status.FAILED}
        while set(hooks.values_list("status", flat=True)) - settled:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        ledger.kill_group(worker)
        for server in (main, target, down):
            if server is not None:
                server.shutdown()
                server.server_close()

    rows = {path: list(hooks.filter(endpoint=e)) for path, e in endpoints.items()}
    status = {path: Counter(r.status for r in items) for path, items in rows.items()}
    hits = {path: receivers.by(path) for path in PATHS}
    # Per delivery: how often the receiver took it (answered, or would have, 2xx).
    taken: dict[str, Counter[str]] = defaultdict(Counter)
    for path, got in hits.items():
        for hit in got:
            if 200 <= hit.status < 300:
                taken[path][hit.delivery] += 1
    repeats = {path: sum(n - 1 for n in c.values()) for path, c in taken.items()}
    attempts = [r.attempts for items in rows.values() for r in items]
    failing = sorted(h.at for h in hits["/always-500"])
    per_row: dict[str, list[float]] = defaultdict(list)
    for hit in hits["/always-500"]:
        per_row[hit.delivery].append(hit.at)
    gaps = [[b - a for a, b in itertools.pairwise(ats)] for ats in per_row.values()]
    found = {
        "events": hooks.count(),
        "kills": kills,
        "requests": {path: len(got) for path, got in hits.items()},
        "repeats_taken": repeats,
        "late_answers": len({h.delivery for h in hits["/slow"]}),  # the first, each
        "status": {path.strip("/"): dict(c) for path, c in status.items()},
        "guarded_status": sorted(
            set(hooks.filter(endpoint=guarded).values_list("status", flat=True))
        ),
        "max_attempts": max(attempts),
        "total_attempts": sum(attempts),
        "always_500_gaps_s": [round(g, 2) for g in gaps[0]],
        "redirect_target_requests": len(receivers.by("/target")),
        "seconds": round(time.monotonic() - started, 1),
    }
    figures(found)
    report = json.dumps(found, default=str)

    # Every event a receiver can take was taken (answered 2xx) at least once ...
    for path in ("/flaky", "/down", "/slow", "/stall"):
        assert set(status[path]) == {Status.SENT}, report
        assert set(taken[path]) == {str(r.pk) for r in rows[path]}, report
    # ... and again only after a kill (at most one per kill) or a late answer.
    assert repeats["/stall"] <= kills and repeats["/flaky"] == repeats["/down"] == 0, report
    assert repeats["/slow"] <= len(rows["/slow"]), report
    # Bounded: the endpoint that always fails gets exactly the max attempts.
    assert status["/always-500"] == {Status.FAILED: events}, report
    assert Counter(h.delivery for h in hits["/always-500"]) == {
        str(r.pk): MAX_ATTEMPTS for r in rows["/always-500"]
    }, report
    assert len(failing) == events * MAX_ATTEMPTS and max(attempts) <= MAX_ATTEMPTS, report
    # With backoff: each gap at least the schedule's (a lower bound, no upper one).
    for row_gaps in gaps:
        for n, gap in enumerate(row_gaps):
            assert gap >= BACKOFF[min(n, len(BACKOFF) - 1)] - 0.25, report
    # Redirects are never followed: one request each, a permanent failure.
    for path in ("/redirect-self", "/redirect-other"):
        assert status[path] == {Status.FAILED: events}, report
        assert {r.attempts for r in rows[path]} == {1}, report
        assert len(hits[path]) == events, report
    assert found["redirect_target_requests"] == 0, report
    # A loopback URL without allow_private: refused, never connected to.
    assert set(hooks.filter(endpoint=guarded).values_list("status", flat=True)) == {Status.FAILED}
    assert receivers.by("/guarded") == [], report
    # The same delivery id and body on every retry; each signature verifies.
    bodies = {str(r.pk): r.payload["body"] for items in rows.values() for r in items}
    for path, got in hits.items():
        for hit in got:
            assert hit.body == bodies[hit.delivery], report
            assert webhooks.verify(SECRET, hit.timestamp, hit.body, hit.signature), report

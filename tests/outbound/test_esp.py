"""Sending through an ESP with django-anymail: Postmark's HTTP API stood in
for by a local HTTP server (the only part we may fake: a commercial API)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from outbound.bounces import is_bouncing
from outbound.delivery import deliver_due
from outbound.models import OutboxItem

OK = (
    200,
    {
        "To": "x",
        "SubmittedAt": "2026-11-28T01:00:00Z",
        "MessageID": "b7bc2f4a",
        "ErrorCode": 0,
        "Message": "OK",
    },
)
INACTIVE = (
    422,
    {
        "ErrorCode": 406,
        "Message": "You tried to send to recipient(s) that have been marked as inactive.\n"
        "Found inactive addresses: carla@cliente.com.br.\n"
        "Inactive recipients are ones that have generated a hard bounce or a spam complaint.",
    },
)
DOWN = (500, {"ErrorCode": 500, "Message": "Internal server error"})


class _Postmark(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: Any = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.requests.append(
            SimpleNamespace(path=self.path, headers=dict(self.headers), json=json.loads(body))
        )
        status, payload = server.replies.pop(0) if server.replies else OK
        payload = {**payload, "To": server.requests[-1].json["To"]} if status == 200 else payload
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def postmark(settings: Any) -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Postmark)
    server.requests, server.replies = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": "test-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{server.server_address[1]}/",
    }
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_it_sends_through_the_esp_api_with_our_headers(
    postmark: Any, ticket: Any, customer: Any
) -> None:
    deliver_due()
    [request] = postmark.requests
    assert request.path == "/email" and request.headers["X-Postmark-Server-Token"] == "test-token"
    sent = request.json
    assert sent["To"] == "Carla Cliente <carla@cliente.com.br>"
    assert sent["Subject"] == f"[{ticket.reference}] {ticket.subject}"
    assert sent["TextBody"] and sent["HtmlBody"]
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    item = OutboxItem.objects.get()
    assert headers["Message-ID"] == f"<{item.message_id}>"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert item.status == "sent", item.last_error


def test_an_inactive_recipient_fails_for_good_and_is_marked_bouncing(
    postmark: Any, ticket: Any, customer: Any
) -> None:
    postmark.replies = [INACTIVE]
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == "failed" and item.attempts == 1
    assert is_bouncing(customer.email)


def test_an_esp_outage_is_retried(postmark: Any, ticket: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    postmark.replies = [DOWN]
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == "pending" and item.deliveries.get().status_code == 500
    deliver_due(now=timezone.now() + timedelta(minutes=2))
    item.refresh_from_db()
    assert item.status == "sent" and len(postmark.requests) == 2

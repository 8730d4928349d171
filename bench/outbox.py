"""Outbox throughput on demand (not in CI): queue N agent replies on one
ticket, then deliver them to a local aiosmtpd capture server.

    HELPDESK_DATA_DIR=$(mktemp -d) .venv/bin/python bench/outbox.py [N]

Prints the enqueue rate (ticket changes per second, notifications included)
and the delivery rate (mails per second through SMTP, one connection each).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from aiosmtpd.controller import Controller  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    call_command("migrate", verbosity=0)
    from helpdesk.accounts import user_create
    from helpdesk.roles import Role
    from outbound.delivery import deliver_due
    from tickets import services

    customer = user_create(email=f"c{time.time_ns()}@example.org", role=Role.CUSTOMER)
    agent = user_create(email=f"a{time.time_ns()}@example.org", role=Role.AGENT)
    ticket = services.ticket_create(requester=customer, subject="bench", body="x")
    started = time.perf_counter()
    for i in range(n):
        services.ticket_reply_add(ticket=ticket, author=agent, body=f"reply {i}")
    enqueue = time.perf_counter() - started

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    started = time.perf_counter()
    while deliver_due(limit=500):
        pass
    deliver = time.perf_counter() - started
    controller.stop()
    print(f"enqueue: {n / enqueue:.0f} replies/s ({n} replies, {enqueue:.2f} s)")
    print(f"deliver: {sink.count / deliver:.0f} mails/s ({sink.count} mails, {deliver:.2f} s)")


if __name__ == "__main__":
    main()

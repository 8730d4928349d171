"""F5: the outbox delivered by a real `manage.py db_worker` to a relay that
answers 4xx, is slow, refuses a recipient for good and goes down, while the
worker is SIGKILLed in the middle of deliveries and started again.

Every mail must reach the relay, retried with backoff and a bounded number of
attempts; the refused recipient fails at once and is not retried; a mail sent
twice (the worker died after the relay took it, before it recorded the 250)
carries the same Message-ID and Date both times, and there is at most one such
repeat per kill. The suite counts them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from outbound.models import OutboxItem
from tests.faults import ledger
from tickets import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = OutboxItem.Status
BOUNCING = "ninguem@cliente.com.br"


class Relay:
    """An SMTP relay with moods: every 4th mail answered 451, every 7th slow;
    while `stall` is set the next mail's 250 waits for the test (which kills
    the worker meanwhile). Records every mail it accepted."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.seen = 0
        self.tempfails = 0
        self.stall = threading.Event()
        self.stalled = threading.Event()  # a mail is held: the worker waits for its 250
        self.port = ledger.free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == BOUNCING:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen += 1
        if self.seen % 4 == 0:
            self.tempfails += 1
            return "451 4.3.0 Try again later"
        if self.seen % 7 == 0:
            await asyncio.sleep(1.0)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append(msg)  # type: ignore[arg-type]
        if self.stall.is_set():
            self.stall.clear()
            self.stalled.set()  # taken: the worker dies before it hears so
            await asyncio.sleep(5)
        return "250 2.0.0 Ok"


def test_outbox_mail_reaches_the_relay_once_through_kills_and_relay_faults(
    tmp_path: Path, settings: Any, scale: Any, figures: Any, child_env: dict[str, str]
) -> None:
    settings.HELPDESK_NOTIFY_MAX_PER_HOUR = 0  # many notices to one customer: no hourly cap
    total, kills_wanted = scale(30, 300), scale(2, 10)
    customer = user_create(
        email="carla@cliente.com.br", full_name="Carla", role=Role.CUSTOMER, password="x" * 12
    )
    agent = user_create(
        email="ana@support.example", full_name="Ana", role=Role.AGENT, password="x" * 12
    )
    ticket = services.ticket_create(requester=customer, subject="Pedido", body="x")
    for n in range(total):
        services.ticket_reply_add(ticket=ticket, author=agent, body=f"andamento {n}")
    nobody = user_create(email=BOUNCING, full_name="Ninguém", role=Role.CUSTOMER, password="x" * 12)
    services.ticket_create(requester=nobody, subject="Endereço errado", body="x")
    mails = OutboxItem.objects.filter(kind=OutboxItem.Kind.EMAIL)
    expected = set(mails.exclude(recipient=BOUNCING).values_list("message_id", flat=True))

    relay = Relay()
    relay.start()
    env = {
        **child_env,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(relay.port),
        "EMAIL_TIMEOUT": "10",
        "HELPDESK_OUTBOX_BACKOFF": "1,2,4",  # seconds here; minutes to hours in production
        "HELPDESK_OUTBOX_SENDING_TIMEOUT": "30",  # the floor: a dead worker's row waits that long
        "HELPDESK_NOTIFY_MAX_PER_HOUR": "0",
    }
    log = tmp_path / "worker.log"

    def start() -> Any:
        return ledger.manage(env, "db_worker", "--no-startup-delay", "-v", "0", log=log)

    worker = start()
    kills = down = 0
    deadline = time.monotonic() + 600  # a hang guard, not a timing assertion
    try:
        while kills < kills_wanted:
            relay.stall.set()
            while not relay.stalled.wait(0.1):
                assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            relay.stalled.clear()
            ledger.kill_group(worker)  # mid-delivery: the relay took the mail, no 250 heard
            kills += 1
            if kills == 1:
                relay.stop()  # the relay is down for a while too
                down += 1
                worker = start()
                time.sleep(3)
                relay.start()
            else:
                worker = start()
        settled = {Status.SENT, Status.FAILED}
        while set(mails.values_list("status", flat=True)) - settled:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        ledger.kill_group(worker)
        relay.stop()

    got = Counter(m["Message-ID"].strip("<>") for m in relay.received)
    dates: dict[str, set[str]] = {}
    for m in relay.received:
        dates.setdefault(m["Message-ID"], set()).add(str(m["Date"]))
    attempts = list(mails.values_list("attempts", flat=True))
    duplicated = sum(n - 1 for n in got.values())
    figures(
        {
            "mails": len(expected) + 1,
            "delivered": len(set(got) & expected),
            "lost": len(expected - set(got)),
            "duplicated": duplicated,
            "kills": kills,
            "relay_down": down,
            "relay_451": relay.tempfails,
            "max_attempts": max(attempts),
            "total_attempts": sum(attempts),
        }
    )
    assert set(got) == expected  # every mail reached the relay
    assert duplicated <= kills  # at most one repeat per kill ...
    assert all(len(d) == 1 for d in dates.values())  # ... with the same Message-ID and Date
    assert set(mails.exclude(recipient=BOUNCING).values_list("status", flat=True)) == {Status.SENT}
    bounced = mails.get(recipient=BOUNCING)
    assert (bounced.status, bounced.attempts) == (Status.FAILED, 1)  # 5xx: no retry
    assert max(attempts) <= settings.HELPDESK_OUTBOX_MAX_ATTEMPTS

"""B12: loops, auto-replies and machine mail (RELIABILITY-SECURITY.md (c),
RFC 3834), with real processes: `manage.py smtpd` listeners, `manage.py
db_worker` workers, and capture SMTP servers where mail leaves.

(a) Every shape of machine mail (Auto-Submitted auto-*, Precedence
    bulk/junk/list, List-Id, X-Autoreply, X-Loop naming us, a null return
    path, our own From, a multipart/report DSN) goes through the listener
    and is stored, and the worker sends 0 acknowledgements for them; a
    person's mail beside them gets its one.
(b) Two helpdesks, each with its own database, data dir, listener and
    worker, each one's relay pointed at the other's listener and each one's
    support address a customer of the other; then one helpdesk against a
    naive autoresponder (answers everything, no Auto-Submitted, a subject of
    its own: a broken vacation responder). Each runs for a simulated hour:
    the clock is moved by moving the world — after each round of traffic
    every timestamp the loop guards read (inbound rows' received_at, outbox
    rows' created_at) is put back one minute in both databases, which is
    what one minute passing is to every "in the last N minutes" window.
    A round is one answer each way (mail from an MTA or a responder takes
    about that long); the run stops early when nothing is in flight.
    At most 3 mails may go each way.
(c) Everything the helpdesk sends carries X-Auto-Response-Suppress: All,
    and Auto-Submitted: auto-generated or auto-replied unless a person
    wrote it (an agent's reply).
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db.models import F

from helpdesk import account_mail
from helpdesk.accounts import user_create
from helpdesk.roles import Role
from mailgateway.models import InboundMessage
from outbound.models import OutboxItem
from tests.faults import ledger
from tests.faults.conftest import child_env  # noqa: F401 (a fixture)
from tests.faults.senders import Tally, deliver
from tests.mailgateway.conftest import _raw_dir, make_mail  # noqa: F401 (a fixture)
from tests.outbound.conftest import SMTPCapture
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

US = "support@example.com"
DSN = (
    "From: postmaster@mx.other.example\r\nTo: support@example.com\r\nSubject: falha\r\n"
    "Message-ID: <dsn.b12@mx.other.example>\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
    "--R\r\nContent-Type: text/plain\r\n\r\nfalhou\r\n--R\r\n"
    "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
    "Final-Recipient: rfc822; gone@cliente.com.br\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "\r\n--R--\r\n"
)


def machine_mails() -> list[tuple[str, str, str, bytes]]:
    """(shape, envelope sender, From address, raw): each from its own address."""
    shapes: list[tuple[str, dict[str, str]]] = [
        ("Auto-Submitted: auto-replied", {"Auto-Submitted": "auto-replied"}),
        ("Auto-Submitted: auto-generated", {"Auto-Submitted": "auto-generated"}),
        ("Auto-Submitted: auto-notified", {"Auto-Submitted": "auto-notified"}),
        ("Precedence: bulk", {"Precedence": "bulk"}),
        ("Precedence: junk", {"Precedence": "junk"}),
        ("Precedence: list", {"Precedence": "list"}),
        ("List-Id", {"List-Id": "<clientes.lists.example.org>"}),
        ("X-Autoreply", {"X-Autoreply": "yes"}),
        ("X-Loop: us", {"X-Loop": US}),
    ]
    out = []
    for n, (shape, headers) in enumerate(shapes):
        sender = f"robo{n}@cliente.com.br"
        out.append((shape, sender, sender, make_mail(sender=sender, headers=headers)))
    ferias, postmaster = "ferias@cliente.com.br", "postmaster@mx.other.example"
    out.append(("null return path", "", ferias, make_mail(sender=ferias)))
    out.append(("our own From", US, US, make_mail(sender=f"Suporte <{US}>")))
    out.append(("multipart/report DSN", "", postmaster, DSN.encode()))
    return out


def send(port: int, sender: str, raw: bytes, to: str = US) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        assert client.sendmail(sender, [to], raw) == {}


def run_worker(env: dict[str, str], log: Path) -> None:
    worker = ledger.manage(env, "db_worker", "--batch", "--no-startup-delay", "-v", "0", log=log)
    assert worker.wait(timeout=300) == 0, log.read_text()[-3000:]


def machine_mail_problems(raw: bytes, human: bool) -> list[str]:
    """(c): what a mail of ours lacks."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    problems = []
    if msg["X-Auto-Response-Suppress"] != "All":
        problems.append("no X-Auto-Response-Suppress: All")
    auto = msg["Auto-Submitted"]
    if human and auto not in {None, "no"}:
        problems.append(f"a person's mail marked Auto-Submitted: {auto}")
    if not human and auto not in {"auto-generated", "auto-replied"}:
        problems.append(f"Auto-Submitted: {auto}")
    return problems


def test_machine_mail_is_stored_and_never_acknowledged_and_our_mail_says_it_is_automatic(
    tmp_path: Path,
    child_env: dict[str, str],  # noqa: F811
    settings: Any,
    agent: Any,
    figures: Any,
) -> None:
    relay = SMTPCapture()
    relay.start()
    env = {**child_env, "EMAIL_HOST": relay.host, "EMAIL_PORT": str(relay.port)}
    port = ledger.free_port()
    listener = ledger.manage(env, "smtpd", "--host", "127.0.0.1", "--port", str(port))
    try:
        ledger.wait_for_port(port, listener)
        shapes = machine_mails()
        for _shape, sender, _from, raw in shapes:
            send(port, sender, raw)
        send(port, "carla@cliente.com.br", make_mail(subject="Pessoa"))  # the control
        # (c) every other kind of mail: an agent's reply, a status notice, account mails.
        person = Ticket.objects.get(subject="Pessoa")
        services.ticket_reply_add(ticket=person, author=agent, body="Olá!")
        services.ticket_transition(ticket=person, actor=agent, to="resolved")
        novo = user_create(
            email="novo@cliente.com.br", full_name="Novo", role=Role.CUSTOMER, password="x" * 12
        )
        account_mail.queue(novo, account_mail.VERIFY)
        account_mail.queue(novo, account_mail.PASSWORD_RESET)
        run_worker(env, tmp_path / "worker.log")
    finally:
        ledger.kill_group(listener)
        relay.stop()

    machines = {address for _s, _e, address, _r in shapes}
    outcomes = {
        shape: InboundMessage.objects.get(from_address=address).outcome
        for shape, _e, address, _r in shapes
    }
    acks = [r for _f, rcpts, _m, _r in relay.messages for r in rcpts if r in machines]
    events = {i.message_id.strip("<>"): i.event for i in OutboxItem.objects.filter(kind="email")}
    header_problems = {}
    for _f, rcpts, msg, raw in relay.messages:
        event = events.get(str(msg["Message-ID"]).strip("<>"), "account")
        found = machine_mail_problems(raw, human=event == "agent_reply")
        if found:
            header_problems[f"{event} to {rcpts[0]} {msg['Message-ID']}"] = found
    control_acks = sum(
        1 for _f, rcpts, m, _r in relay.messages if rcpts == ["carla@cliente.com.br"]
    )
    figures(
        {
            "machine_mails": len(shapes),
            "stored": len(outcomes),
            "outcomes": outcomes,
            "acknowledgements_to_machines": len(acks),
            "mails_sent": len(relay.messages),
            "mails_to_the_person": control_acks,
            "mails_missing_auto_headers": len(header_problems),
        }
    )
    assert InboundMessage.objects.count() == len(shapes) + 1  # every one stored
    assert acks == [], outcomes
    assert control_acks >= 2  # the acknowledgement, the agent's reply
    assert not header_problems, header_problems


# (b) Two helpdesks and a broken responder, for a simulated hour.

MINUTE = timedelta(minutes=1)


class Helpdesk:
    """One instance: its environment, listener and worker processes."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.name, self.env, self.tmp = name, env, tmp
        self.port = ledger.free_port()
        self.procs: list[Any] = []

    def start(self, relay_port: int) -> None:
        env = {**self.env, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(relay_port)}
        log = self.tmp / f"{self.name}.log"
        listener = ledger.manage(
            env, "smtpd", "--host", "127.0.0.1", "--port", str(self.port), log=log
        )
        self.procs.append(listener)
        self.procs.append(ledger.manage(env, "db_worker", "--no-startup-delay", "-v", "0", log=log))
        ledger.wait_for_port(self.port, listener)

    def stop_worker(self) -> None:
        ledger.kill_group(self.procs.pop())

    def stop(self) -> None:
        for proc in self.procs:
            ledger.kill_group(proc)
        self.procs = []


def sqlite_helpdesk(tmp: Path, base: dict[str, str], support: str) -> tuple[dict[str, str], Path]:
    """A second helpdesk: its own SQLite database (migrated), data and raw dirs."""
    db = tmp / "b" / "db.sqlite3"
    db.parent.mkdir(parents=True)
    env = {
        **base,
        "DATABASE_URL": f"sqlite:///{db}",
        "HELPDESK_DATA_DIR": str(tmp / "b"),
        "HELPDESK_RAW_DIR": str(tmp / "b" / "raw"),
        "HELPDESK_SUPPORT_ADDRESS": support,
        "DEFAULT_FROM_EMAIL": f"Suporte B <{support}>",
    }
    migrate = ledger.manage(env, "migrate", "-v", "0", log=tmp / "b-migrate.log")
    assert migrate.wait(timeout=300) == 0, (tmp / "b-migrate.log").read_text()[-3000:]
    return env, db


def one_minute_passes(b_db: Path | None) -> None:
    """Move every timestamp the loop guards read one minute into the past."""
    InboundMessage.objects.update(received_at=F("received_at") - MINUTE)
    OutboxItem.objects.update(created_at=F("created_at") - MINUTE)
    if b_db is not None:
        with sqlite3.connect(b_db, timeout=30) as conn:
            for table, column in (
                ("mailgateway_inboundmessage", "received_at"),
                ("outbound_outboxitem", "created_at"),
            ):
                conn.execute(
                    f"UPDATE {table} SET {column} = "
                    f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-60 seconds')"
                )


def simulate_hour(
    counts: Callable[[], tuple[int, int]],
    in_flight: Callable[[], bool],
    b_db: Path | None = None,
    *,
    tick: Callable[[], None] = lambda: None,
    settle: float = 1.5,
) -> tuple[int, int, int]:
    """Rounds of one simulated minute until nothing is in flight or the hour
    is up: (minutes, mails one way, mails the other way). A round lets the
    traffic settle, moves the clock a minute, then ticks (a responder that
    answers on the minute sends what it owes)."""
    minutes = 0
    last = counts()
    while minutes < 60:
        deadline = time.monotonic() + 60  # a hang guard
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:  # let the round settle
            time.sleep(0.2)
            now = counts()
            if now != last:
                last, quiet_since = now, time.monotonic()
            assert time.monotonic() < deadline
        busy = in_flight()
        minutes += 1
        one_minute_passes(b_db)
        tick()
        if not busy:
            break  # nothing pending anywhere: the rest of the hour is silence
    return (minutes, *last)


class NaiveResponder:
    """A broken vacation responder at address: answers every mail to its
    From, with a subject of its own, no In-Reply-To and no Auto-Submitted;
    at once, or (on_the_minute) when the simulated minute ticks."""

    def __init__(self, address: str, answer_to_port: int, *, on_the_minute: bool) -> None:
        self.address = address
        self.port = ledger.free_port()
        self.answer_to = answer_to_port
        self.on_the_minute = on_the_minute
        self.received = 0
        self.owed: list[str] = []  # answers not sent yet
        self.sending = 0
        self.lock = threading.Lock()
        self.tally, self.stop = Tally(), threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received += 1
            self.owed.append(msg["From"].addresses[0].addr_spec)
        if not self.on_the_minute:
            self.tick()
        return "250 OK"

    def tick(self) -> None:
        with self.lock:
            owed, self.owed = self.owed, []
            self.sending += len(owed)
        for to in owed:
            threading.Thread(target=self._answer, args=(to,), daemon=True).start()

    def busy(self) -> bool:
        with self.lock:
            return bool(self.owed or self.sending)

    def _answer(self, to: str) -> None:
        raw = make_mail(
            sender=f"Joana <{self.address}>",
            to=to,
            subject="Obrigada pela sua mensagem",
            body="Estou fora até segunda-feira. Responderei assim que puder.",
        )
        # Retried like an MTA until 250 (a 451 is the listener's "later").
        deliver(self.answer_to, raw, self.address, self.tally, self.stop, hang_up=0)
        with self.lock:
            self.sending -= 1


def _pending(b_db: Path | None = None) -> bool:
    if OutboxItem.objects.filter(status__in=["pending", "sending"]).exists():
        return True
    if b_db is None:
        return False
    with sqlite3.connect(b_db, timeout=30) as conn:
        sql = "SELECT count(*) FROM outbound_outboxitem WHERE status IN ('pending', 'sending')"
        return bool(conn.execute(sql).fetchone()[0])


def against_a_responder(
    a: Helpdesk, base: dict[str, str], log: Path, address: str, *, on_the_minute: bool
) -> tuple[int, int, int]:
    """Helpdesk a (its worker's relay the responder) for a simulated hour
    after one mail from the responder's owner."""
    responder = NaiveResponder(address, a.port, on_the_minute=on_the_minute)
    responder.controller.start()
    env = {**base, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(responder.port)}
    worker = ledger.manage(env, "db_worker", "--no-startup-delay", "-v", "0", log=log)
    try:
        send(a.port, address, make_mail(sender=f"Joana <{address}>", subject="Primeira"))

        def counts() -> tuple[int, int]:
            answers = InboundMessage.objects.filter(from_address=address)
            return responder.received, answers.exclude(subject="Primeira").count()

        return simulate_hour(counts, lambda: responder.busy() or _pending(), tick=responder.tick)
    finally:
        responder.stop.set()
        ledger.kill_group(worker)
        responder.controller.stop()


def test_two_helpdesks_and_a_broken_responder_exchange_at_most_3_mails_an_hour(
    tmp_path: Path,
    child_env: dict[str, str],  # noqa: F811
    figures: Any,
) -> None:
    b_support = "support@b.example"
    b_env, b_db = sqlite_helpdesk(tmp_path, child_env, b_support)
    a = Helpdesk("a", child_env, tmp_path)
    b = Helpdesk("b", b_env, tmp_path)

    def b_count(sql: str) -> int:
        with sqlite3.connect(b_db, timeout=30) as conn:
            return int(conn.execute(sql).fetchone()[0])

    def a_to_b_and_back() -> tuple[int, int]:
        # Mails each helpdesk's listener took from the other (not the first
        # mail, which the test sent as the other's customer).
        to_b = b_count(
            "SELECT count(*) FROM mailgateway_inboundmessage "
            f"WHERE from_address = '{US}' AND subject != 'Olá de A'"
        )
        to_a = InboundMessage.objects.filter(from_address=b_support).exclude(subject="Olá de B")
        return to_b, to_a.count()

    try:
        a.start(relay_port=b.port)
        b.start(relay_port=a.port)
        # Each support address writes to the other once, as a customer would.
        send(a.port, b_support, make_mail(sender=f"Suporte B <{b_support}>", subject="Olá de B"))
        send(
            b.port,
            US,
            make_mail(sender=f"Suporte A <{US}>", to=b_support, subject="Olá de A"),
            to=b_support,
        )
        helpdesks = simulate_hour(a_to_b_and_back, lambda: _pending(b_db), b_db)
        b.stop()
        a.stop_worker()
        # The same helpdesk against a responder that answers everything: at
        # once (a loop at machine speed), then one that answers on the minute.
        log = tmp_path / "a.log"
        at_once = against_a_responder(
            a, child_env, log, "joana@ferias.example", on_the_minute=False
        )
        minutely = against_a_responder(a, child_env, log, "rui@ferias.example", on_the_minute=True)
    finally:
        a.stop()
        b.stop()

    def ways(run: tuple[int, int, int], there: str, back: str) -> dict[str, int]:
        return {"simulated_minutes": run[0], there: run[1], back: run[2]}

    figures(
        {
            "helpdesks": ways(helpdesks, "a_to_b", "b_to_a"),
            "responder_at_once": ways(at_once, "to_responder", "from_responder"),
            "responder_on_the_minute": ways(minutely, "to_responder", "from_responder"),
        }
    )
    # One acknowledgement each way, which the other takes for an auto-reply.
    assert helpdesks[1] <= 3 and helpdesks[2] <= 3, helpdesks
    for run in (at_once, minutely):
        assert run[1] <= 3 and run[2] <= 3, run


def test_acknowledgements_of_mail_stop_at_3_an_hour_per_address(customer: Any) -> None:
    """The cap behind (b), in process: the 4th mail from one address in an
    hour makes its ticket but no acknowledgement; tickets opened on the web
    answer no mail and are not counted; an hour later mail is answered again."""
    from mailgateway.ingest import ingest_raw_email

    acks = OutboxItem.objects.filter(event="ticket_created", recipient=customer.email)

    def mail(n: int) -> None:
        raw = make_mail(sender=f"Carla <{customer.email}>", subject=f"Pedido {n}")
        assert ingest_raw_email(raw, door="pipe").outcome == "created"

    for n in range(4):
        mail(n)
    assert list(acks.order_by("id").values_list("status", flat=True)) == [
        *["pending"] * 3,
        "skipped",
    ]
    for n in range(2):
        services.ticket_create(requester=customer, subject=f"Pela web {n}", body="x" * 20)
    assert acks.filter(status="pending").count() == 5
    OutboxItem.objects.update(created_at=F("created_at") - timedelta(minutes=61))
    mail(4)
    assert acks.filter(status="pending").count() == 6
    assert Ticket.objects.count() == 7

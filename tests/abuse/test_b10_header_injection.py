"""B10: outbound header injection (RELIABILITY-SECURITY.md (c); RT's
CVE-2012-4730, CPython's CVE-2024-6923).

Line breaks of every kind — CR, LF, CRLF, an RFC 2047 encoded newline, a
literal "=0A", U+2028, U+2029, U+0085 and NUL — each followed by
"Bcc: x@evil.example", go in through every door text enters by: a mail
through the MTA pipe (`manage.py ingest_email`: display name and Subject, raw
and encoded), the new-ticket form (a customer's subject; an agent's ticket on
behalf of a new requester, named), the API, the profile page (an agent's name
and signature, a customer's name), the sign-up form, and a category's name.
Then the real worker (`manage.py db_worker --batch`) delivers every mail the
helpdesk made of it (acknowledgements, agents' replies, notices to agents,
account mails) to a capture SMTP server, and a webhook to a local receiver.

Each mail is re-parsed with `email.policy.strict` (which raises on any header
defect) and must have exactly the expected header set, every header once, no
Bcc or Cc, a To naming exactly the outbox row's recipient, and no header
value with a control or line-separator character; at SMTP level the
recipients must be exactly the row's recipient. The webhook's HTTP headers
must be exactly ours.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from helpdesk.accounts import user_create
from helpdesk.models import User
from helpdesk.roles import Role
from outbound.models import AGENT_NOTIFICATIONS, OutboxItem, WebhookEndpoint, WebhookEvent
from tests.api.conftest import token_client
from tests.faults import ledger
from tests.faults.conftest import child_env  # noqa: F401 (a fixture)
from tests.mailgateway.conftest import _raw_dir  # noqa: F401 (a fixture)
from tests.outbound.conftest import SMTPCapture, http_receiver  # noqa: F401 (a fixture)
from tickets.models import Category, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EVIL = "x@evil.example"
# What follows each break: a header a splitting serialiser would emit.
INJECTED = f"Bcc: {EVIL}"
BREAKS = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "=0A": "=0A",
    "U+2028": "\u2028",
    "U+2029": "\u2029",
    "U+0085": "\u0085",
    "NUL": "\x00",
}
ENCODED = "=?utf-8?q?a=0ABcc:_x@evil.example?="  # decodes to "a\nBcc: x@evil.example"


def payloads() -> dict[str, str]:
    out = {name: f"Ana{brk}{INJECTED}" for name, brk in BREAKS.items()}
    out["RFC 2047 newline"] = ENCODED
    return out


# The headers each kind of mail carries (each once), whatever its text: the
# set a mail of that kind made from harmless text has (seen in a clean run).
_BASE = {"Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"}
_BASE |= {"X-Auto-Response-Suppress"}
_ACCOUNT = _BASE | {"Auto-Submitted", "Content-Transfer-Encoding"}
EXPECTED = {
    "agent_reply": _BASE | {"Reply-To", "In-Reply-To", "References"},
    "new_ticket": _BASE | {"Auto-Submitted", "Reply-To"},
    "ticket_created": _BASE | {"Auto-Submitted", "Reply-To"},
    "verify-email": _ACCOUNT,
    "password-reset": _ACCOUNT,
}
# Present or not by the mail's history or text, never by a payload: threading
# headers when the ticket began with a mail; a transfer encoding for 8-bit text.
OPTIONAL = {"In-Reply-To", "References", "Content-Transfer-Encoding"}
UNSAFE = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | {"\u2028", "\u2029"}


def _encoded_word(value: str) -> str:
    import base64

    return "=?utf-8?b?" + base64.b64encode(value.encode()).decode() + "?="


def pipe_mails(tmp: Path) -> list[Path]:
    """Two mails per payload: the payload raw in From's name and Subject (as
    far as a header line can hold it), and base64 encoded-words of it."""
    files = []
    for n, (name, value) in enumerate(payloads().items()):
        for style in ("raw", "encoded"):
            if style == "raw":
                # A raw LF ends the header line: the rest arrives as a header
                # of the inbound mail, which is exactly what the sender meant.
                display, subject = value, f"Pedido {value}"
            else:
                display, subject = _encoded_word(value), _encoded_word(f"Pedido {value}")
            if style == "encoded" and name == "RFC 2047 newline":
                display, subject = ENCODED, f"Pedido {ENCODED}"
            sender = f"pipe{n}{style}@cliente.com.br"
            head = (
                f'From: "{display}" <{sender}>\r\n'
                if style == "raw"
                else f"From: {display} <{sender}>\r\n"
            )
            raw = (
                head.encode("utf-8", "surrogatepass")
                + b"To: support@example.com\r\n"
                + b"Subject: "
                + subject.encode()
                + b"\r\n"
                + f"Message-ID: <b10.{n}.{style}@cliente.com.br>\r\n".encode()
                + b"Date: Sat, 05 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                + b"Content-Type: text/plain; charset=utf-8\r\n\r\nA impressora parou.\r\n"
            )
            path = tmp / f"b10-{n}-{style}.eml"
            path.write_bytes(raw)
            files.append(path)
    return files


def _post(client: Client, url: str, data: dict[str, Any], refused: Counter[str], door: str) -> bool:
    response = client.post(url, data)
    if response.status_code == 302:
        return True
    assert response.status_code in {200, 400}, (door, response.status_code)
    refused[door] += 1  # a form error (Django refuses NUL): nothing made of it
    return False


def _doors(tmp: Path, env: dict[str, str], category: Category) -> Counter[str]:
    """Every payload in through every door; the number refused per door."""
    refused: Counter[str] = Counter()
    files = pipe_mails(tmp)
    proc = ledger.manage(env, "ingest_email", *map(str, files), log=tmp / "pipe.log")
    assert proc.wait(timeout=300) == 0, (tmp / "pipe.log").read_text()[-3000:]

    for n, (name, value) in enumerate(payloads().items()):
        agent = user_create(
            email=f"agent{n}@support.example", full_name="Agent", role=Role.AGENT, password="x" * 12
        )
        agent.language = "en"
        agent.is_available = n == 0  # one agent gets the new-ticket notices
        agent.save()
        agent.teams.add(category.default_team)  # type: ignore[arg-type]
        staff = Client()
        staff.force_login(agent)
        _post(
            staff,
            "/accounts/profile/",
            {
                "full_name": value,
                "language": "en",
                "time_zone": "UTC",
                "signature": f"Sig {value}",
                "email_notices": [str(n) for n in AGENT_NOTIFICATIONS],
            },
            refused,
            "profile (agent)",
        )
        customer = user_create(
            email=f"web{n}@cliente.com.br", full_name="Web", role=Role.CUSTOMER, password="x" * 12
        )
        web = Client()
        web.force_login(customer)
        _post(
            web,
            "/accounts/profile/",
            {"full_name": value, "language": "pt-br", "time_zone": "UTC", "signature": ""},
            refused,
            "profile (customer)",
        )
        # An admin's category name (the admin's form refuses NUL, as every
        # Django form, and PostgreSQL cannot store it: dropped here).
        cat = Category.objects.create(
            name=f"Cat {n} {value}".replace("\x00", "")[:100],
            default_team=category.default_team,
        )
        new = {"priority": "high", "subject": f"Web {value}", "description": "A rede caiu de novo."}
        _post(web, "/tickets/new/", {**new, "category": cat.pk}, refused, "new-ticket form")
        _post(
            staff,
            "/tickets/new/",
            {**new, "requester_email": f"onbehalf{n}@cliente.com.br", "requester_name": value},
            refused,
            "new-ticket form (on behalf)",
        )
        api = token_client(customer)
        created = api.post(
            "/api/v1/tickets/",
            {"subject": f"API {value}", "body": "Sem internet."},
            content_type="application/json",
        )
        if created.status_code != 201:
            assert created.status_code in {400, 422}, created.content[:300]
            refused["API"] += 1
        _post(
            Client(),
            "/accounts/signup/",
            {
                "full_name": value,
                "email": f"signup{n}@cliente.com.br",
                "password": "um-cavalo-correto-42",
            },
            refused,
            "sign-up form",
        )
        # This agent answers every ticket no agent has answered yet (the
        # mails' tickets, then this payload's web and API tickets).
        for ticket in Ticket.objects.exclude(messages__author__role=Role.AGENT):
            _post(
                staff,
                f"/tickets/{ticket.reference}/reply/",
                {"body": f"Resolvido {value}"},
                refused,
                "reply form",
            )
    _post(Client(), "/accounts/password/reset/", {"email": "web0@cliente.com.br"}, refused, "reset")
    return refused


def _check_mail(raw: bytes, kind: str, item: OutboxItem, rcpts: list[str]) -> list[str]:
    """What is wrong with one delivered mail ([] when nothing)."""
    problems = []
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.strict)
        names = [k for k in msg.keys()]  # noqa: SIM118 (keys() lists repeats)
        values = {k: str(msg[k]) for k in set(names)}
    except Exception as exc:  # strict: any defect raises
        return [f"strict parse: {type(exc).__name__}: {exc}"]
    counts = Counter(n.lower() for n in names)
    required = {n.lower() for n in EXPECTED[kind] - OPTIONAL}
    allowed = {n.lower() for n in EXPECTED[kind] | OPTIONAL}
    extra = {n for n in names if n.lower() not in allowed}
    if extra:
        problems.append(f"unexpected headers {sorted(extra)}")
    if any(c > 1 for c in counts.values()):
        problems.append(f"repeated headers {[n for n, c in counts.items() if c > 1]}")
    missing = required - set(counts)
    if missing:
        problems.append(f"missing {sorted(missing)}")
    for name, value in values.items():
        if set(value) & UNSAFE:
            problems.append(f"{name} holds a control character: {value!r}")
    to = [a.addr_spec.lower() for a in msg["To"].addresses] if msg["To"] else []
    if to != [item.recipient.lower()]:
        problems.append(f"To {to} is not [{item.recipient}]")
    if [r.lower() for r in rcpts] != [item.recipient.lower()]:
        problems.append(f"SMTP recipients {rcpts} are not [{item.recipient}]")
    for name in ("From", "Reply-To"):
        if msg[name] is not None and EVIL in [a.addr_spec for a in msg[name].addresses]:
            problems.append(f"{name} names {EVIL}")
    return problems


def test_no_door_lets_a_line_break_into_an_outbound_header(
    tmp_path: Path,
    settings: Any,
    category: Category,
    child_env: dict[str, str],  # noqa: F811
    http_receiver: Any,  # noqa: F811
    figures: Any,
) -> None:
    settings.HELPDESK_NOTIFY_MAX_PER_HOUR = 0
    WebhookEndpoint.objects.create(
        name="hook",
        url=http_receiver.url,
        events=[str(e) for e in WebhookEvent],
        secret="s" * 32,
        allow_private=True,
    )
    capture = SMTPCapture()
    capture.start()
    env = {
        **child_env,
        "EMAIL_HOST": capture.host,
        "EMAIL_PORT": str(capture.port),
        "EMAIL_TIMEOUT": "10",
        "HELPDESK_NOTIFY_MAX_PER_HOUR": "0",
    }
    try:
        refused = _doors(tmp_path, env, category)
        log = tmp_path / "worker.log"
        worker = ledger.manage(
            env, "db_worker", "--batch", "--no-startup-delay", "-v", "0", log=log
        )
        assert worker.wait(timeout=600) == 0, log.read_text()[-3000:]
        deadline = time.monotonic() + 30  # the capture server's last DATA may still be in hand
        emails = OutboxItem.objects.filter(kind=OutboxItem.Kind.EMAIL)
        while len(capture.messages) < emails.filter(status="sent").count():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        capture.stop()

    by_id = {f"<{i.message_id.strip('<>')}>": i for i in emails if i.message_id}
    statuses = Counter(emails.values_list("status", flat=True))
    problems: dict[str, list[str]] = {}
    kinds: Counter[str] = Counter()
    for _sender, rcpts, parsed, raw in capture.messages:
        item = by_id.get(str(parsed["Message-ID"]).strip())
        if item is None:  # an account mail: its Message-ID is made when it is built
            item = emails.filter(recipient__in=rcpts, payload__has_key="account").first()
        assert item is not None, parsed["Message-ID"]
        kind = str(item.payload.get("template") or item.payload.get("account"))
        kinds[kind] += 1
        found = _check_mail(raw, kind, item, rcpts)
        if found:
            problems[f"{item.event} to {item.recipient} {parsed['Message-ID']}"] = found
    # The payloads reached the headers (cleaned), not only the database.
    carried = sum(INJECTED in str(m["Subject"]) + str(m["From"]) for m in capture.mails())
    hooks = http_receiver.requests
    hook_headers = {
        "Host",
        "User-Agent",
        "Accept-Encoding",
        "Accept",
        "Connection",
        "Content-Type",
        "Content-Length",
        "X-Helpdesk-Event",
        "X-Helpdesk-Delivery",
        "X-Helpdesk-Timestamp",
        "X-Helpdesk-Signature",
    }
    bad_hooks = [
        sorted(set(r.headers) - hook_headers) for r in hooks if set(r.headers) - hook_headers
    ]
    figures(
        {
            "payloads": len(payloads()),
            "tickets": Ticket.objects.count(),
            "mails_delivered": len(capture.messages),
            "mails_by_kind": dict(kinds),
            "outbox_status": dict(statuses),
            "refused_by_door": dict(refused),
            "pipe_outcomes": dict(
                Counter(
                    line.split()[1]
                    for line in (tmp_path / "pipe.log").read_text().split("\n")
                    if line.startswith("/")
                )
            ),
            "webhooks": len(hooks),
            "mails_carrying_a_payload": carried,
            "mails_with_problems": len(problems),
            # The injected address as an SMTP recipient (any row's or not).
            "injected_recipients": sum(
                r == EVIL for _s, rs, _m, _r in capture.messages for r in rs
            ),
        }
    )
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)[:6000]
    assert not bad_hooks
    assert statuses.get("failed", 0) == 0 and statuses.get("pending", 0) == 0, statuses
    assert len(capture.messages) == statuses["sent"]
    # Every door made mail: acknowledgements, replies, notices, account mails.
    assert {"ticket_created", "agent_reply", "new_ticket", "verify-email"} <= set(kinds)
    assert hooks
    assert carried >= len(capture.messages) // 2
    assert not User.objects.filter(email=EVIL).exists()


def test_the_check_sees_an_injected_header() -> None:
    """The control: a mail whose Subject was split does fail the check."""
    item = OutboxItem(recipient="carla@cliente.com.br")
    raw = (
        b"Subject: Ana\r\nBcc: x@evil.example\r\nFrom: a@example.com\r\n"
        b"To: carla@cliente.com.br\r\nDate: Sat, 05 Dec 2026 12:00:00 +0000\r\n"
        b"Message-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain\r\nAuto-Submitted: auto-generated\r\n"
        b"X-Auto-Response-Suppress: All\r\n\r\nx\r\n"
    )
    rcpt = ["carla@cliente.com.br"]
    assert _check_mail(raw, "verify-email", item, rcpt) == ["unexpected headers ['Bcc']"]
    doubled = _check_mail(raw.replace(b"Bcc", b"To"), "verify-email", item, [*rcpt, EVIL])
    assert "repeated headers ['to']" in doubled
    assert any(p.startswith("SMTP recipients") for p in doubled)

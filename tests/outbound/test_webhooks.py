"""Webhooks against a real local HTTP server: signatures, retries, giving
up, the Slack format, and the SSRF guard."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from outbound import netguard, webhooks
from outbound.delivery import deliver_due
from outbound.models import OutboxItem, WebhookEndpoint, WebhookEvent
from tickets import services
from tickets.states import Priority, Status

ALL_EVENTS = list(WebhookEvent.values)


def later(minutes: float) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def hooks() -> Any:
    return OutboxItem.objects.filter(kind=OutboxItem.Kind.WEBHOOK)


@pytest.fixture
def endpoint(db: Any, http_receiver: Any) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        name="ops",
        url=http_receiver.url,
        events=ALL_EVENTS,
        secret="s3cret",
        allow_private=True,  # the receiver is on 127.0.0.1
    )


def test_it_posts_a_signed_event_the_receiver_can_verify(
    endpoint: WebhookEndpoint, http_receiver: Any, customer: Any, category: Any, agent: Any
) -> None:
    ticket = services.ticket_create(
        requester=customer, subject="Sem rede", body="x", category=category
    )
    deliver_due()
    [request] = http_receiver.requests
    body = request.body.decode()
    ts, sig = request.headers["X-Helpdesk-Timestamp"], request.headers["X-Helpdesk-Signature"]
    assert webhooks.verify("s3cret", ts, body, sig)
    assert not webhooks.verify("wrong", ts, body, sig)
    assert not webhooks.verify("s3cret", ts, body.replace("Sem", "Com"), sig)
    assert not webhooks.verify("s3cret", str(int(ts) - 3600), body, sig)  # a replay
    data = json.loads(body)
    assert (
        data["event"] == "ticket.created" and request.headers["X-Helpdesk-Event"] == data["event"]
    )
    assert {k: data[k] for k in ("reference", "subject", "status", "priority")} == {
        "reference": ticket.reference,
        "subject": "Sem rede",
        "status": "open",
        "priority": "medium",
    }
    assert data["requester"] == {"name": "Carla Cliente", "email": customer.email}
    assert data["assignee"] is None
    assert data["url"] == f"http://127.0.0.1:8000/tickets/{ticket.reference}/"

    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    services.ticket_priority_set(ticket=ticket, priority=Priority.HIGH, actor=agent)
    services.ticket_reply_add(ticket=ticket, author=agent, body="internal", internal=True)
    services.ticket_reply_add(ticket=ticket, author=agent, body="public")
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    deliver_due()
    events = [http_receiver.json(i)["event"] for i in range(1, len(http_receiver.requests))]
    assert events == [
        "ticket.assigned",
        "priority.changed",
        "reply.added",  # the internal note fired nothing
        "status.changed",
        "ticket.resolved",
    ]
    assert http_receiver.json(1)["assignee"]["email"] == agent.email
    assert http_receiver.json(4)["old"] == "open" and http_receiver.json(4)["new"] == "resolved"


def test_an_endpoint_gets_only_the_events_it_chose(
    endpoint: WebhookEndpoint, http_receiver: Any, ticket: Any, agent: Any
) -> None:
    deliver_due()
    endpoint.events = [WebhookEvent.TICKET_RESOLVED]
    endpoint.save()
    http_receiver.requests.clear()
    services.ticket_reply_add(ticket=ticket, author=agent, body="hi")
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    deliver_due()
    assert [http_receiver.json(i)["event"] for i in range(len(http_receiver.requests))] == [
        "ticket.resolved"
    ]


def test_it_retries_on_500_and_gives_up_after_the_limit(
    endpoint: WebhookEndpoint, http_receiver: Any, ticket: Any, settings: Any
) -> None:
    settings.HELPDESK_OUTBOX_MAX_ATTEMPTS = 4
    http_receiver.default_status = 500
    for minutes in (0, 2, 5, 10, 30, 60):
        deliver_due(now=later(minutes))
    item = hooks().get()
    assert item.status == OutboxItem.Status.FAILED and item.attempts == 4
    assert len(http_receiver.requests) == 4
    assert list(item.deliveries.values_list("status_code", flat=True)) == [500] * 4
    assert item.last_error == "HTTP 500"
    # The same event every time, each with a fresh timestamp and signature.
    assert len({r.body for r in http_receiver.requests}) == 1


def test_a_500_then_a_200_delivers_once(
    endpoint: WebhookEndpoint, http_receiver: Any, ticket: Any
) -> None:
    http_receiver.statuses = [500, 503]
    for minutes in (0, 2, 5):
        deliver_due(now=later(minutes))
    assert hooks().get().status == OutboxItem.Status.SENT
    assert len(http_receiver.requests) == 3
    deliver_due(now=later(600))
    assert len(http_receiver.requests) == 3


@pytest.mark.parametrize(
    ("status", "final", "attempts"),
    [
        (404, "failed", 1),
        (410, "failed", 1),
        (429, "pending", 1),
        (408, "pending", 1),
        (302, "failed", 1),
    ],
)
def test_client_errors_are_permanent_except_408_and_429(
    endpoint: WebhookEndpoint,
    http_receiver: Any,
    ticket: Any,
    status: int,
    final: str,
    attempts: int,
) -> None:
    http_receiver.default_status = status
    deliver_due()
    item = hooks().get()
    assert (item.status, item.attempts) == (final, attempts)
    assert len(http_receiver.requests) == 1  # a redirect is never followed


def test_the_slack_format_posts_readable_text(
    endpoint: WebhookEndpoint, http_receiver: Any, customer: Any, category: Any
) -> None:
    endpoint.format = WebhookEndpoint.Format.SLACK
    endpoint.save()
    ticket = services.ticket_create(
        requester=customer, subject="VPN <caiu> & voltou", body="x", category=category
    )
    deliver_due()
    payload = http_receiver.json(0)
    assert list(payload) == ["text"]
    assert payload["text"] == (
        f"*Ticket criado*: <http://127.0.0.1:8000/tickets/{ticket.reference}/|{ticket.reference}> "
        "VPN &lt;caiu&gt; &amp; voltou (Aberto, Média) - Carla Cliente"
    )
    assert "X-Helpdesk-Signature" in http_receiver.requests[0].headers


def test_a_dead_endpoint_does_not_hold_up_other_deliveries(
    http_receiver: Any, ticket: Any, smtp_server: Any
) -> None:
    # A port that accepts connections and never answers: the read times out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        WebhookEndpoint.objects.create(
            name="dead",
            url=f"http://127.0.0.1:{silent.getsockname()[1]}/",
            events=ALL_EVENTS,
            secret="x",
            allow_private=True,
        )
        WebhookEndpoint.objects.create(
            name="ok", url=http_receiver.url, events=ALL_EVENTS, secret="x", allow_private=True
        )
        services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=None)
        deliver_due()
    finally:
        silent.close()
    dead = list(hooks().filter(endpoint__name="dead").order_by("id"))
    assert {i.status for i in dead} == {OutboxItem.Status.PENDING}
    # One read timeout for the dead endpoint; its other row waits with it.
    assert [i.attempts for i in dead] == [1, 0]
    assert "Timeout" in dead[0].last_error
    assert dead[1].next_attempt_at == dead[0].next_attempt_at
    assert {i.status for i in hooks().filter(endpoint__name="ok")} == {OutboxItem.Status.SENT}
    assert len(http_receiver.requests) == 2  # status.changed and ticket.resolved
    assert {i.status for i in OutboxItem.objects.filter(kind="email")} == {"sent"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/x",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://100.64.1.1/",  # CGNAT
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as a decimal number
        "http://0x7f000001/",  # ... in hex
        "http://127.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        # A10's other spellings: octal, a bare 0, the unspecified IPv6, a
        # user part or fragment that looks like the host.
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.000.000.001/",
        "http://0/",
        "http://[::]/",
        "http://example.com@127.0.0.1/",
        "http://127.0.0.1#@example.com/",
        "http://198.18.0.1/",  # benchmarking
        "http://[::ffff:a9fe:a9fe]/",  # the metadata address, IPv4-mapped
        "http://[2002:a9fe:a9fe::]/",  # ... in 6to4
        # IPv6 addresses that carry a private IPv4 one to a NAT64 gateway
        # (found by A10: they passed), the deprecated IPv4-compatible form,
        # NAT64's local-use prefix and site-local.
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a00:5]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b:1::a00:5]/",
        "http://[fec0::1]/",
    ],
)
def test_private_and_loopback_targets_are_refused(url: str) -> None:
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_target(url, allow_private=False)


def _names_for_loopback() -> list[str]:
    """Names this machine resolves to a loopback or private address without
    asking the network: localhost, and the names in /etc/hosts."""
    names = ["localhost", "LOCALHOST", "LocalHost"]
    with contextlib.suppress(OSError), open("/etc/hosts") as hosts:
        for line in hosts:
            fields = line.split("#", 1)[0].split()
            if fields and not ipaddress.ip_address(fields[0]).is_global:
                names += [name for name in fields[1:] if name not in names]
    return names


@pytest.mark.parametrize("name", _names_for_loopback())
def test_names_resolving_to_private_addresses_are_refused(name: str) -> None:
    # The address the name resolves to is judged, not the name: refused as
    # non-public (not merely unresolvable), for every address it has.
    with pytest.raises(netguard.UnsafeURL, match="non-public"):
        netguard.check_target(f"http://{name}:8080/hook", allow_private=False)


def test_nat64_of_a_public_address_passes() -> None:
    # 64:ff9b::5db8:d822 is 93.184.216.34 through NAT64: public, allowed.
    assert netguard.resolve("64:ff9b::5db8:d822", 443, allow_private=False) == [
        "64:ff9b::5db8:d822"
    ]


def test_a_redirect_to_an_internal_address_is_never_followed(
    http_receiver: Any, ticket: Any
) -> None:
    # The receiver stands in for a public endpoint (allow_private: it is on
    # loopback) that answers 302 to an internal URL on the same receiver.
    http_receiver.location = http_receiver.url.replace("/hook", "/internal")
    http_receiver.default_status = 302
    WebhookEndpoint.objects.create(
        name="redirector", url=http_receiver.url, events=ALL_EVENTS, secret="x", allow_private=True
    )
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=None)
    deliver_due()
    assert [r.path for r in http_receiver.requests] == ["/hook"] * len(http_receiver.requests)
    assert {(i.status, i.attempts) for i in hooks()} == {("failed", 1)}
    # Why it failed is said; what the receiver answered ("ok") never is.
    assert all(i.last_error == "HTTP 302: redirects are not followed" for i in hooks())


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://x/",
        "http:///nohost",
        "javascript:alert(1)",
    ],
)
def test_only_http_and_https_urls_are_allowed(url: str) -> None:
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_target(url, allow_private=True)


def test_public_addresses_pass_the_check() -> None:
    assert netguard.resolve("93.184.216.34", 443, allow_private=False) == ["93.184.216.34"]
    assert netguard.resolve("2606:4700::1111", 443, allow_private=False) == ["2606:4700::1111"]


def test_a_refused_target_fails_at_once_and_is_never_contacted(
    http_receiver: Any, ticket: Any
) -> None:
    WebhookEndpoint.objects.create(
        name="sneaky", url=http_receiver.url, events=ALL_EVENTS, secret="x", allow_private=False
    )
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=None)
    deliver_due()
    assert http_receiver.requests == []
    assert {(i.status, i.attempts) for i in hooks()} == {("failed", 1)}
    assert all("non-public" in i.last_error for i in hooks())


def test_the_pinned_connection_refuses_private_addresses_itself(http_receiver: Any) -> None:
    # Even if a URL slipped past the pre-check (DNS rebinding), the guarded
    # session resolves again at connect time and refuses.
    http = netguard.session(allow_private=False)
    with pytest.raises(Exception, match="refused"):
        http.post(http_receiver.url, data=b"{}", timeout=(5, 5), allow_redirects=False)
    assert http_receiver.requests == []


def test_the_admin_form_refuses_private_urls(db: Any) -> None:
    from outbound.admin import WebhookEndpointForm

    data = {
        "name": "x",
        "url": "http://127.0.0.1:9/",
        "events": ["ticket.created"],
        "format": "json",
        "is_active": True,
    }
    form = WebhookEndpointForm(data=data)
    assert not form.is_valid() and "url" in form.errors
    form = WebhookEndpointForm(data={**data, "allow_private": True})
    assert form.is_valid(), form.errors
    form = WebhookEndpointForm(data={**data, "url": "ftp://example.com/"})
    assert not form.is_valid()


def test_quiet_entries_fire_no_webhook(
    endpoint: WebhookEndpoint, ticket: Any, customer: Any
) -> None:
    before = hooks().count()
    services.ticket_reply_add(ticket=ticket, author=customer, body="auto", is_quiet=True)
    assert hooks().count() == before


def test_a_receiver_that_trickles_its_answer_is_cut_off(
    ticket: Any, settings: Any, monkeypatch: Any
) -> None:
    # One byte every half second never trips the 5 s read timeout; the
    # deadline ends the attempt anyway.
    monkeypatch.setattr(netguard, "DEADLINE_SECONDS", 2.0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"  # 2 minutes' worth
    sent: list[int] = []

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        with conn:
            for byte in answer:
                if stop.wait(0.5):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                sent.append(byte)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        WebhookEndpoint.objects.create(
            name="slow",
            url=f"http://127.0.0.1:{listener.getsockname()[1]}/",
            events=[WebhookEvent.TICKET_RESOLVED],
            secret="x",
            allow_private=True,
        )
        services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=None)
        deliver_due()
        given_up_after = len(sent)
    finally:
        stop.set()
        listener.close()
    [item] = hooks()
    assert item.status == OutboxItem.Status.PENDING and item.attempts == 1
    assert given_up_after < len(answer)  # the client hung up long before the end
    assert "Connection" in item.last_error

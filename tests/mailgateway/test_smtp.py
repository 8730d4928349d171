"""The SMTP/LMTP door against a real listener on a free 127.0.0.1 port, with real
clients (smtplib and raw sockets: no system program needed)."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from mailgateway.models import InboundMessage
from mailgateway.smtp import GatewayHandler, make_controller
from tests.mailgateway.conftest import make_mail
from tests.mailgateway.test_pipe import ROOT, _database_url
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listener(lmtp: bool) -> Iterator[SimpleNamespace]:
    handler = GatewayHandler(lmtp=lmtp, keep_connections=False)
    controller = make_controller(host="127.0.0.1", port=free_port(), lmtp=lmtp, handler=handler)
    controller.start()
    try:
        yield SimpleNamespace(host="127.0.0.1", port=controller.port)
    finally:
        controller.stop()
        handler.shutdown()


@pytest.fixture
def smtp_server(transactional_db: Any) -> Iterator[SimpleNamespace]:
    yield from _listener(lmtp=False)


@pytest.fixture
def lmtp_server(transactional_db: Any) -> Iterator[SimpleNamespace]:
    yield from _listener(lmtp=True)


def send(server: SimpleNamespace, raw: bytes, rcpts: list[str] | None = None) -> Any:
    with smtplib.SMTP(server.host, server.port, timeout=60) as client:
        return client.sendmail("carla@cliente.com.br", rcpts or ["support@example.com"], raw)


def test_it_accepts_mail_to_support_and_answers_250_after_storing(
    smtp_server: SimpleNamespace,
) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=60) as client:
        client.ehlo("client.example")
        assert b"AUTH" not in (client.ehlo_resp or b"")
        client.mail("carla@cliente.com.br")
        client.rcpt("support@example.com")
        code, reply = client.data(make_mail())
    assert code == 250 and b"2.0.0" in reply
    row = InboundMessage.objects.get()
    assert row.door == "smtp" and row.outcome == "created"
    assert row.envelope_from == "carla@cliente.com.br"
    assert row.envelope_rcpts == ["support@example.com"]
    assert Ticket.objects.count() == 1


def test_it_rejects_unknown_recipients_with_550_and_relays_nothing(
    smtp_server: SimpleNamespace,
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_server, make_mail(to="victim@elsewhere.org"), ["victim@elsewhere.org"])
    code, reply = refused.value.recipients["victim@elsewhere.org"]
    assert code == 550 and reply.startswith(b"5.1.1")
    assert InboundMessage.objects.count() == 0


def test_it_accepts_plus_addresses_and_drops_unknown_ones_of_a_mixed_list(
    smtp_server: SimpleNamespace,
) -> None:
    refused = send(smtp_server, make_mail(), ["support+abc@example.com", "x@other.org"])
    assert list(refused) == ["x@other.org"]
    assert InboundMessage.objects.get().envelope_rcpts == ["support+abc@example.com"]


def test_it_answers_552_past_the_size_limit_and_stores_nothing(
    settings: Any, transactional_db: Any
) -> None:
    settings.HELPDESK_MAX_MESSAGE_MB = 1
    for server in _listener(lmtp=False):
        big = make_mail(body="x" * 70 + "\n") + (b"y" * 76 + b"\r\n") * 14000
        # smtplib announces SIZE, so the listener refuses at MAIL FROM ...
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(server, big)
        assert refused.value.smtp_code == 552
        # ... and a client that does not gets 552 after the data.
        out = _dialogue(
            server,
            [b"HELO x\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
             b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n", big + b".\r\n"],
        )  # fmt: skip
        assert b"552 " in out
    assert InboundMessage.objects.count() == 0


def test_it_takes_20_concurrent_senders(smtp_server: SimpleNamespace) -> None:
    mails = [
        make_mail(sender=f"cliente{i}@exemplo.com.br", subject=f"Pedido {i}") for i in range(20)
    ]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda raw: send(smtp_server, raw), mails))
    assert results == [{}] * 20
    assert Ticket.objects.count() == 20
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {"created"}


def test_it_answers_451_and_stores_nothing_while_the_database_fails_then_takes_the_retry(
    smtp_server: SimpleNamespace, _raw_dir: Path
) -> None:
    raw = make_mail()
    table = InboundMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            send(smtp_server, raw)
        assert error.value.smtp_code == 451
        assert error.value.smtp_error.startswith(b"4.3.0")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    assert InboundMessage.objects.count() == 0
    assert not [p for p in _raw_dir.rglob("*") if p.is_file()]
    # The sending MTA retries: exactly one ticket, and a second retry is a duplicate.
    assert send(smtp_server, raw) == {}
    assert send(smtp_server, raw) == {}
    assert Ticket.objects.count() == 1
    assert sorted(InboundMessage.objects.values_list("outcome", flat=True)) == [
        "created",
        "duplicate",
    ]


def test_a_mail_with_an_attachment_arrives_with_its_file(smtp_server: SimpleNamespace) -> None:
    # What `swaks --attach` sends: multipart/mixed, the file base64-encoded.
    msg = EmailMessage()
    msg["From"] = "carla@cliente.com.br"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Relatorio com anexo"
    msg["Message-ID"] = "<anexo-1@cliente.com.br>"
    msg.set_content("Segue o relatorio.")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="relatorio.csv")
    assert send(smtp_server, crlf(msg.as_bytes())) == {}
    ticket = Ticket.objects.get()
    assert ticket.subject == "Relatorio com anexo"
    attachment = Attachment.objects.get()
    assert attachment.original_name == "relatorio.csv"
    assert attachment.file.read() == b"a,b\n1,2\n"


def test_a_pipelined_session_gets_every_answer_in_order(smtp_server: SimpleNamespace) -> None:
    # A client that pipelines (RFC 2920) writes the whole transaction before
    # reading; the answers must come back one per command, in order.
    mail = crlf(make_mail(subject="Pipelined")) + b".\r\n"
    session = (
        b"EHLO client.example\r\nMAIL FROM:<carla@cliente.com.br>\r\n"
        b"RCPT TO:<relay@elsewhere.org>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"
    )
    with socket.create_connection((smtp_server.host, smtp_server.port), timeout=60) as sock:
        assert sock.recv(1024).startswith(b"220")
        sock.sendall(session)
        out = b""
        while b"354" not in out and not out.endswith(b"EOF"):
            out += sock.recv(4096) or b"EOF"  # EOF: the server hung up
        sock.sendall(mail + b"QUIT\r\n")
        while not out.endswith(b"EOF") and b"221" not in out:
            out += sock.recv(4096) or b"EOF"
    codes = [line[:3] for line in out.split(b"\r\n") if line[:3].isdigit() and line[3:4] == b" "]
    assert codes == [b"250", b"250", b"550", b"250", b"354", b"250", b"221"], out
    assert b"550 5.1.1" in out
    assert InboundMessage.objects.get().envelope_rcpts == ["support@example.com"]
    assert Ticket.objects.get().subject == "Pipelined"


def test_a_session_with_only_unknown_recipients_relays_nothing(
    smtp_server: SimpleNamespace,
) -> None:
    # The dialogue a plain client (swaks --to relay@elsewhere.org) goes through.
    out = _dialogue(
        smtp_server,
        [b"EHLO x\r\n", b"MAIL FROM:<a@b.org>\r\n", b"RCPT TO:<relay@elsewhere.org>\r\n",
         b"DATA\r\n"],
    )  # fmt: skip
    assert b"550 5.1.1" in out
    assert b"354" not in out and b"503" in out  # no DATA without a recipient
    assert InboundMessage.objects.count() == 0


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _dialogue(server: SimpleNamespace, chunks: list[bytes]) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        out = sock.recv(1024)
        try:
            for chunk in [*chunks, b"QUIT\r\n"]:
                sock.sendall(chunk)
                time.sleep(0.05)
        except OSError:
            pass  # the server hung up (call limits): read what it said
        deadline = time.monotonic() + 30
        while b"221" not in out and time.monotonic() < deadline:
            try:
                data = sock.recv(4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return out


def test_bare_lf_smuggling_yields_one_message(smtp_server: SimpleNamespace) -> None:
    smuggled = (
        b"From: carla@cliente.com.br\r\nTo: support@example.com\r\nSubject: one\r\n"
        b"Message-ID: <one@cliente.com.br>\r\n\r\nfirst\n.\n"
        b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"
        b"From: ceo@example.com\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n"
    )
    out = _dialogue(
        smtp_server,
        [b"EHLO x\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
         b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n", smuggled],
    )  # fmt: skip
    assert out.count(b"250 2.0.0") == 1
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.get().subject == "one"


def test_lmtp_answers_once_per_recipient_and_makes_one_ticket(
    lmtp_server: SimpleNamespace, settings: Any
) -> None:
    settings.HELPDESK_EXTRA_ADDRESSES = ["vendas@example.com"]
    out = _dialogue(
        lmtp_server,
        [b"LHLO postfix\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
         b"RCPT TO:<support@example.com>\r\n", b"RCPT TO:<vendas@example.com>\r\n",
         b"DATA\r\n", crlf(make_mail(to="support@example.com, vendas@example.com")) + b".\r\n"],
    )  # fmt: skip
    assert out.count(b"250 2.0.0") == 2
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.get().door == "lmtp"


def test_command_limits_close_a_pinning_session(smtp_server: SimpleNamespace) -> None:
    out = _dialogue(smtp_server, [b"EHLO x\r\n"] + [b"NOOP\r\n"] * 7)
    assert b"421 4.7.0" in out


def test_the_smtpd_command_serves_and_stops_gracefully_on_sigterm(
    transactional_db: Any, _raw_dir: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "HELPDESK_RAW_DIR": str(_raw_dir),
        "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "smtpd", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        server = SimpleNamespace(host="127.0.0.1", port=port)
        assert send(server, make_mail()) == {}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert Ticket.objects.count() == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_it_offers_starttls_when_a_certificate_is_configured(
    settings: Any, tmp_path: Path, transactional_db: Any
) -> None:
    import ssl

    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    settings.HELPDESK_SMTP_TLS_CERT = str(cert)
    settings.HELPDESK_SMTP_TLS_KEY = str(key)
    for server in _listener(lmtp=False):
        with smtplib.SMTP(server.host, server.port, timeout=60) as client:
            client.ehlo("client.example")
            assert client.has_extn("starttls")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo("client.example")
            client.sendmail("carla@cliente.com.br", ["support@example.com"], make_mail())
    assert Ticket.objects.count() == 1


def test_data_arriving_in_pieces_is_unstuffed_and_ends_only_at_crlf_dot_crlf(
    smtp_server: SimpleNamespace, _raw_dir: Path
) -> None:
    # RFC 5321 4.5.2: the client doubles a leading dot; the end of data may be
    # split across packets anywhere; ".\n" alone (bare LF) is text, not the end.
    body = b"first line\r\n..starts with a dot\r\n.\nnot the end\r\n"
    mail = crlf(make_mail(subject="Pontos", body="x")).replace(b"x\r\n", body)
    wire = mail + b".\r\n"
    cut = len(wire) - 3  # inside the final CRLF . CRLF
    out = _dialogue(
        smtp_server,
        [b"EHLO x\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
         b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n", wire[:cut], wire[cut:]],
    )  # fmt: skip
    assert out.count(b"250 2.0.0") == 1 and b"221" in out
    stored = next(p for p in _raw_dir.rglob("*.eml"))
    # As aiosmtpd did: one leading dot off every line that has one.
    unstuffed = mail.replace(b"\r\n..starts", b"\r\n.starts").replace(b"\r\n.\n", b"\r\n\n")
    assert stored.read_bytes() == unstuffed


def test_a_line_past_the_limit_is_refused_after_the_data_and_an_empty_message_is_taken(
    smtp_server: SimpleNamespace,
) -> None:
    head = b"From: carla@cliente.com.br\r\nSubject: long\r\n\r\n"
    long_line, html_line = head + b"y" * 70_000 + b"\r\n", head + b"<p>y</p>" * 150 + b"\r\n"
    out = _dialogue(
        smtp_server,
        [b"EHLO x\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
         b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n", long_line + b".\r\n",
         b"MAIL FROM:<carla@cliente.com.br>\r\n", b"RCPT TO:<support@example.com>\r\n",
         b"DATA\r\n", b".\r\n", b"MAIL FROM:<carla@cliente.com.br>\r\n",
         b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n", html_line + b".\r\n"],
    )  # fmt: skip
    codes = [line[:3] for line in out.split(b"\r\n") if line[:3].isdigit() and line[3:4] == b" "]
    # The 70 KB line: 500 after the data, the session goes on; the empty
    # message is stored as what it is (zero bytes); a 1,200-byte line of
    # HTML is longer than RFC 5321's 1,000 but taken, as sent.
    assert codes[:6] == [b"220", b"250", b"250", b"250", b"354", b"500"]
    assert codes[6:] == [b"250", b"250", b"354", b"250"] * 2 + [b"221"]
    assert sorted(InboundMessage.objects.values_list("size", flat=True)) == [0, len(html_line)]


def test_concurrent_sessions_share_a_batch_and_a_bad_mail_spoils_no_other(
    smtp_server: SimpleNamespace, settings: Any
) -> None:
    # One sender's domain is not allowed: its mail is quarantined in its own
    # savepoint, stored (250 all the same), the others' tickets committed.
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["exemplo.com.br"]
    mails = [make_mail(sender=f"c{i}@exemplo.com.br", subject=f"Pedido {i}") for i in range(9)]
    mails.insert(4, make_mail(sender="intruso@outro.example", subject="Fora"))
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert list(pool.map(lambda raw: send(smtp_server, raw), mails)) == [{}] * 10
    assert Ticket.objects.count() == 9
    assert InboundMessage.objects.get(outcome="quarantined").subject == "Fora"


def test_a_batch_that_raises_is_written_one_mail_at_a_time(
    smtp_server: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, _raw_dir: Path
) -> None:
    # A bug in the batch writer (here: its one INSERT fails): every session
    # still gets its 250, through the single-mail path.
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(InboundMessage.objects, "bulk_create", broken)
    mails = [make_mail(subject=f"Pedido {i}") for i in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        assert list(pool.map(lambda raw: send(smtp_server, raw), mails)) == [{}] * 5
    assert Ticket.objects.count() == 5
    files = {p.relative_to(_raw_dir).as_posix() for p in _raw_dir.rglob("*.eml")}
    assert files == set(InboundMessage.objects.values_list("raw_path", flat=True))

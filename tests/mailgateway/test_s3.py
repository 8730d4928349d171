"""The doors with HELPDESK_S3_BUCKET: raw mails and attachments in a real S3
endpoint (moto's server on loopback, tests/objectstore.py), and the
durability rule unchanged: 250 and exit 0 only once the store confirmed the
write, 451 and exit 75 while it is down, one ticket after the retry."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from mailgateway import store
from mailgateway.errors import InboundError
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests import objectstore
from tests.mailgateway.conftest import make_mail
from tests.mailgateway.test_pipe import ROOT, _database_url
from tests.objectstore import S3Server
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4 the invoice\n" * 50


@pytest.fixture
def s3_server() -> Iterator[S3Server]:
    yield from objectstore.running()


@pytest.fixture
def s3_settings(settings: Any, s3_server: S3Server) -> S3Server:
    return objectstore.use_in_this_process(settings, s3_server)


def mail_with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carla Cliente <carla@cliente.com.br>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Fatura em anexo"
    msg["Message-ID"] = make_msgid(domain="cliente.com.br")
    msg.set_content("Segue a fatura.")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="fatura.pdf")
    return msg.as_bytes(policy=SMTP)


def _env(server: S3Server, raw_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "HELPDESK_RAW_DIR": str(raw_dir),
        "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
        "LOG_LEVEL": "WARNING",
        **server.env(),
    }


@pytest.fixture
def smtpd(s3_server: S3Server, _raw_dir: Path) -> Iterator[tuple[str, int]]:
    """manage.py smtpd on the object store, in a child process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "smtpd", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=_env(s3_server, _raw_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "smtpd did not start"
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def send(address: tuple[str, int], raw: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP(*address, timeout=60) as client:
        client.ehlo("mx.cliente.com.br")
        client.mail("carla@cliente.com.br")
        client.rcpt("support@example.com")
        return client.data(raw)


def local_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_it_stores_the_raw_mail_and_its_attachment_in_the_bucket_before_250(
    smtpd: tuple[str, int], s3_server: S3Server, _raw_dir: Path, settings: Any
) -> None:
    raw = mail_with_attachment()
    code, _reply = send(smtpd, raw)
    assert code == 250
    row = InboundMessage.objects.get()
    assert row.outcome == "created" and row.ticket is not None
    raws = s3_server.objects("raw/")
    assert raws == {f"raw/{row.raw_path}": raw}
    attachment = Attachment.objects.get(original_name="fatura.pdf")
    assert s3_server.objects("attachments/") == {attachment.file.name: PDF}
    # Nothing of it on this machine's disk: another host can serve it.
    assert local_files(_raw_dir) == []
    assert local_files(Path(settings.MEDIA_ROOT)) == []


def test_it_answers_451_while_the_store_is_down_and_250_to_the_retry(
    smtpd: tuple[str, int], s3_server: S3Server
) -> None:
    raw = mail_with_attachment()
    s3_server.stop()
    code, reply = send(smtpd, raw)
    assert code == 451, reply
    assert InboundMessage.objects.count() == 0
    assert Ticket.objects.count() == 0

    s3_server.start()  # an empty store again: nothing was written to it
    code, _reply = send(smtpd, raw)  # the sending MTA's retry
    assert code == 250
    assert Ticket.objects.count() == 1
    row = InboundMessage.objects.get()
    assert s3_server.objects("raw/") == {f"raw/{row.raw_path}": raw}
    code, _reply = send(smtpd, raw)  # and a second copy is a duplicate, not a ticket
    assert code == 250
    assert Ticket.objects.count() == 1


def _ingest(server: S3Server, raw_dir: Path, mail: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "manage.py", "ingest_email"],
        cwd=ROOT,
        input=mail,
        capture_output=True,
        env=_env(server, raw_dir),
        timeout=120,
        check=False,
    )


def test_the_pipe_exits_75_while_the_store_is_down(s3_server: S3Server, _raw_dir: Path) -> None:
    mail = make_mail()
    s3_server.stop()
    proc = _ingest(s3_server, _raw_dir, mail)
    assert proc.returncode == 75, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert InboundMessage.objects.count() == 0

    s3_server.start()
    proc = _ingest(s3_server, _raw_dir, mail)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("- created HD-")
    row = InboundMessage.objects.get()
    assert s3_server.objects("raw/") == {f"raw/{row.raw_path}": mail}


def test_healthcheck_reports_the_object_store(s3_server: S3Server, _raw_dir: Path) -> None:
    def check() -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "manage.py", "healthcheck"],
            cwd=ROOT,
            capture_output=True,
            env=_env(s3_server, _raw_dir),
            timeout=120,
            check=False,
        )
        return dict(json.loads(proc.stdout)["checks"]["object_store"])

    assert check() == {"ok": True, "bucket": "helpdesk-test"}
    s3_server.stop()
    assert check() == {"ok": False, "bucket": "helpdesk-test", "error": "EndpointConnectionError"}


def test_reading_and_deleting_go_to_the_bucket(s3_settings: S3Server) -> None:
    relative = store.write_raw(b"Subject: hi\r\n\r\nbody\r\n")
    assert store.read_raw(relative) == b"Subject: hi\r\n\r\nbody\r\n"
    with store.open_raw(relative) as handle:
        assert handle.read() == b"Subject: hi\r\n\r\nbody\r\n"
    store.delete_raw(relative)
    assert s3_settings.objects("raw/") == {}
    with pytest.raises(FileNotFoundError):
        store.read_raw(relative)
    s3_settings.stop()
    with pytest.raises(OSError, match="object store write"):
        store.write_raw(b"x")


def test_the_sweeper_removes_only_objects_no_row_names(
    s3_settings: S3Server, settings: Any
) -> None:
    from helpdesk.ops.cleanup import remove_orphans
    from tickets import services

    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    result = ingest_raw_email(
        mail_with_attachment(), door="pipe", envelope_rcpts=["support@example.com"]
    )
    assert result.outcome == "created"
    orphan_raw = store.write_raw(b"Subject: left by a crash\r\n\r\n")
    orphan_file = services.attachment_file_save(b"rolled back").name
    kept = set(s3_settings.objects())

    # older_than=-60: every object counts as old, however new it is.
    listed = remove_orphans(older_than=-60, dry_run=True)
    assert sorted(listed) == sorted(
        [f"s3://helpdesk-test/raw/{orphan_raw}", f"s3://helpdesk-test/{orphan_file}"]
    )
    assert set(s3_settings.objects()) == kept
    assert len(remove_orphans(older_than=-60)) == 2
    assert set(s3_settings.objects()) == kept - {f"raw/{orphan_raw}", orphan_file}
    assert len(s3_settings.objects()) == 2  # the mail and its attachment


def test_a_batch_of_files_goes_through_the_worker_processes_into_the_bucket(
    s3_server: S3Server, _raw_dir: Path, tmp_path: Path
) -> None:
    files = []
    for i in range(30):
        path = tmp_path / f"{i}.eml"
        # One sender each: more than 20 from one in 10 minutes is a loop.
        path.write_bytes(make_mail(sender=f"cliente{i}@cliente.com.br", subject=f"Pedido {i}"))
        files.append(str(path))
    proc = subprocess.run(
        [sys.executable, "manage.py", "ingest_email", *files],
        cwd=ROOT,
        capture_output=True,
        env=_env(s3_server, _raw_dir),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[1] for line in proc.stdout.decode().splitlines()] == ["created"] * 30
    stored = s3_server.objects("raw/")
    assert {f"raw/{p}" for p in InboundMessage.objects.values_list("raw_path", flat=True)} == set(
        stored
    )
    assert len(stored) == Ticket.objects.count() == 30


def test_a_forked_worker_does_not_share_the_parents_connection(s3_settings: S3Server) -> None:
    from config import objectstore as config_objectstore

    store.write_raw(b"Subject: parent\r\n\r\n")  # the parent holds a live connection
    storage = config_objectstore.raw_storage()
    parent = (storage.connection, storage.bucket)
    pid = os.fork()
    if pid == 0:  # the child: a client of its own, and it works
        try:
            fresh = storage.connection is not parent[0] and storage.bucket is not parent[1]
            store.write_raw(b"Subject: child\r\n\r\n")
            os._exit(0 if fresh else 2)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (storage.connection, storage.bucket) == parent
    assert sorted(s3_settings.objects("raw/").values()) == [
        b"Subject: child\r\n\r\n",
        b"Subject: parent\r\n\r\n",
    ]


def test_an_attachment_the_store_refuses_leaves_the_mail_pending_for_the_retry(
    s3_settings: S3Server, settings: Any
) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    working = settings.STORAGES["default"]
    # The raw mail is stored, then its attachment is refused (a bucket that
    # does not exist answers NoSuchBucket): the mail must not be quarantined.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**working, "OPTIONS": {**working["OPTIONS"], "bucket_name": "no-such-bucket"}},
    }
    raw = mail_with_attachment()
    with pytest.raises(InboundError):
        ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    row = InboundMessage.objects.get()
    assert row.outcome == "pending" and row.attempts == 1
    assert Ticket.objects.count() == 0

    settings.STORAGES = {**settings.STORAGES, "default": working}
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    assert result.reference is not None
    row.refresh_from_db()
    assert row.outcome == "created"
    assert Ticket.objects.count() == 1
    attachment = Attachment.objects.get(original_name="fatura.pdf")
    assert s3_settings.objects("attachments/") == {attachment.file.name: PDF}

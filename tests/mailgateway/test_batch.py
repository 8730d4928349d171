"""The batch path (`ingest_email FILE...`): one commit for many mails, a
savepoint per mail, parsing in a worker process, per-mail fallback."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError

from mailgateway import batch, ingest, store
from mailgateway.batch import ingest_raw_emails
from mailgateway.errors import InboundRejected
from mailgateway.ingest import IngestResult, row_fields
from mailgateway.models import InboundMessage
from mailgateway.prepare import prepare
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Attachment, MailId, Ticket

pytestmark = pytest.mark.django_db


def _results(outcomes: list[Any]) -> list[IngestResult]:
    assert all(isinstance(o, IngestResult) for o in outcomes), outcomes
    return outcomes


def test_one_bad_mail_is_quarantined_without_undoing_the_others(settings: Any) -> None:
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["cliente.com.br"]
    first = make_mail(subject="Primeiro")
    raws = [
        first,
        make_mail(sender="intruso@outro.example", subject="Fora do domínio"),
        make_mail(sender="Bia <bia@cliente.com.br>", subject="Segundo"),
        first,  # the same mail again in the same batch
        make_mail(sender="Rui <rui@cliente.com.br>", subject="Terceiro"),
    ]
    created, bad, second, again, third = _results(ingest_raw_emails(raws, door="pipe"))

    assert [r.outcome for r in (created, bad, second, again, third)] == [
        "created",
        "quarantined",
        "created",
        "duplicate",
        "created",
    ]
    assert set(Ticket.objects.values_list("subject", flat=True)) == {
        "Primeiro",
        "Segundo",
        "Terceiro",
    }
    assert again.reference == created.reference
    row = InboundMessage.objects.get(pk=bad.inbound_id)
    assert "sender domain not allowed" in row.error
    assert store.read_raw(row.raw_path) == raws[1]  # quarantined with its raw bytes
    dup = InboundMessage.objects.get(pk=again.inbound_id)
    assert dup.duplicate_of_id == created.inbound_id
    # Every stored row points at its file, and no file is left without a row.
    paths = set(InboundMessage.objects.exclude(raw_path="").values_list("raw_path", flat=True))
    on_disk = {str(p.relative_to(store.raw_root())) for p in store.raw_root().rglob("*.eml")}
    assert paths == on_disk


def _second_mail_hits_a_database_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = batch._pipeline
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> IngestResult:
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "_pipeline", flaky)


def test_a_database_error_rolls_the_batch_back_and_retries_per_mail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _second_mail_hits_a_database_error(monkeypatch)
    raws = [make_mail(subject=f"Pedido {n}") for n in range(5)]
    results = _results(ingest_raw_emails(raws, door="pipe"))

    assert [r.outcome for r in results] == ["created"] * 5
    assert Ticket.objects.count() == 5  # the first mail's work was rolled back, not doubled
    assert InboundMessage.objects.count() == 5
    files = list(store.raw_root().rglob("*.eml"))
    assert len(files) == 5  # the batch's own files were removed with its rows


def test_too_big_is_rejected_in_place(settings: Any) -> None:
    settings.HELPDESK_MAX_MESSAGE_MB = 1
    big = make_mail(body="x" * (1024 * 1024 + 10))
    ok, rejected = ingest_raw_emails([make_mail(), big], door="pipe")
    assert isinstance(ok, IngestResult) and ok.outcome == "created"
    assert isinstance(rejected, InboundRejected) and rejected.exit_code == 65


def test_a_worker_prepares_exactly_as_the_main_process() -> None:
    raw = make_mail(cc="Ana <ana@cliente.com.br>", headers={"X-Priority": "1"})
    # A pool of our own: batch._workers() declines to fork beside the test
    # servers' threads (a plain ingest_email process has none, see below).
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    envelope = {"door": "pipe", "envelope_from": "", "envelope_rcpts": [], "mailbox": ""}
    staged = pool.submit(batch.stage, raw, store.raw_root(), envelope).result()
    assert staged.prepared is not None and staged.prepared.restored() == prepare(raw)
    assert store.read_raw(staged.raw_path) == raw  # written where this process reads
    assert (staged.key, staged.columns) == row_fields(raw, **envelope)
    garbage = pool.submit(batch.stage, b"\x00garbage", store.raw_root(), envelope).result()
    assert garbage.raw_path  # stored whatever it is: the pipeline quarantines it
    pool.shutdown()


@pytest.mark.django_db(transaction=True)
def test_ingest_email_with_many_files_acknowledges_each_mail_in_order(
    tmp_path: Path, manage: Any
) -> None:
    files = []
    for n in range(7):
        path = tmp_path / f"{n}.eml"
        path.write_bytes(make_mail(subject=f"Pedido {n}", sender=f"c{n}@cliente.com.br"))
        files.append(str(path))
    files.insert(3, files[0])  # the same file twice: one ticket, one duplicate
    proc = manage("ingest_email", *files)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert [(name, outcome) for name, outcome, _ref in lines] == [
        (f, "duplicate" if i == 3 else "created") for i, f in enumerate(files)
    ]
    assert Ticket.objects.count() == 7
    assert InboundMessage.objects.filter(outcome="created").count() == 7


def test_a_stream_yields_each_batch_once_committed() -> None:
    raws = [make_mail(subject=f"Pedido {n}") for n in range(7)]
    stream = batch.ingest_stream(raws, door="pipe", batch=3)
    first = next(stream)
    assert isinstance(first, IngestResult) and first.outcome == "created"
    assert InboundMessage.objects.count() == 3  # the whole first batch, committed together
    rest = list(stream)
    assert [r.outcome for r in _results(rest)] == ["created"] * 6
    assert len({r.reference for r in [first, *rest]}) == 7


def test_a_bug_raising_through_the_batch_leaves_no_file_without_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(InboundMessage.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        ingest_raw_emails([make_mail(subject=f"Pedido {n}") for n in range(3)], door="pipe")
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()
    assert list(store.raw_root().rglob("*.eml")) == []


def test_a_killed_worker_costs_no_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    pool.submit(os.getpid).result()
    for pid in list(pool._processes):  # an OOM kill, say
        os.kill(pid, signal.SIGKILL)
    monkeypatch.setattr(batch, "_pool", pool)
    monkeypatch.setattr(batch.threading, "active_count", lambda: 1)
    results = _results(
        ingest_raw_emails([make_mail(subject=f"P{n}") for n in range(4)], door="pipe")
    )
    assert [r.outcome for r in results] == ["created"] * 4
    assert batch._pool is not pool
    batch._drop_workers()


def _with_attachment(subject: str, sender: str, data: bytes) -> bytes:
    msg = message_from_bytes(make_mail(subject=subject, sender=sender), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="nota.pdf")
    return msg.as_bytes()


def _attachment_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in (root / "attachments").rglob("*") if p.is_file()}


def test_workers_save_attachments_and_leave_no_file_without_a_row(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["cliente.com.br"]
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    monkeypatch.setattr(batch, "_pool", pool)
    swept: list[str] = []
    real_discard = services.attachment_files_discard
    monkeypatch.setattr(
        services,
        "attachment_files_discard",
        lambda names: (swept.extend(names), real_discard(names)),
    )
    pdf = os.urandom(50_000)
    kept = _with_attachment("Nota", "Ana <ana@cliente.com.br>", pdf)
    outsider = _with_attachment("Fora", "x@outro.example", os.urandom(9_000))
    created, quarantined, duplicate = _results(
        ingest_raw_emails([kept, outsider, kept], door="pipe")
    )
    assert [created.outcome, quarantined.outcome, duplicate.outcome] == [
        "created",
        "quarantined",
        "duplicate",
    ]
    (attachment,) = Attachment.objects.all()
    assert attachment.file.read() == pdf
    assert attachment.size == len(pdf)
    assert attachment.sha256 == hashlib.sha256(pdf).hexdigest()
    # The worker saved all three; the quarantined mail's and the duplicate's are gone.
    assert len(swept) == 3 and attachment.file.name in swept
    assert _attachment_files() == {attachment.file.name}
    batch._drop_workers()


def test_a_rolled_back_batch_discards_the_files_its_workers_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _second_mail_hits_a_database_error(monkeypatch)
    monkeypatch.setattr(
        batch, "_pool", ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    )
    raws = [_with_attachment(f"P{n}", f"c{n}@cliente.com.br", os.urandom(5_000)) for n in range(3)]
    assert [r.outcome for r in _results(ingest_raw_emails(raws, door="pipe"))] == ["created"] * 3
    names = set(Attachment.objects.values_list("file", flat=True))
    assert len(names) == 3 and _attachment_files() == names  # the per-mail retry's, only
    batch._drop_workers()


def test_a_reply_threads_to_a_mail_earlier_in_the_same_batch() -> None:
    # The batch writes its Message-ID map rows at its end; the lookup sees them before.
    first = make_mail(subject="Impressora parada", message_id="<p1@cliente.com.br>")
    reply = make_mail(
        subject="Re: Impressora parada (sem tag)",
        message_id="<p2@cliente.com.br>",
        headers={"In-Reply-To": "<p1@cliente.com.br>", "References": "<p1@cliente.com.br>"},
    )
    created, replied = _results(ingest_raw_emails([first, reply], door="pipe"))
    assert (created.outcome, replied.outcome) == ("created", "replied")
    assert replied.reference == created.reference
    row = InboundMessage.objects.get(pk=replied.inbound_id)
    assert row.verdict["rule"] == "message-id"
    ticket = Ticket.objects.get(reference=created.reference)
    assert set(MailId.objects.filter(outbound=False).values_list("message_id", "ticket")) == {
        ("p1@cliente.com.br", ticket.pk),
        ("p2@cliente.com.br", ticket.pk),
    }


def test_a_quarantined_mail_leaves_no_message_id_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ingest._finish

    def fail_second(row: Any, outcome: Any, ticket: Any, entry: Any) -> Any:
        if row.subject == "Segundo":  # after its ticket and Message-ID were written
            raise RuntimeError("a bug after the ticket was written")
        return real(row, outcome, ticket, entry)

    monkeypatch.setattr(ingest, "_finish", fail_second)
    raws = [
        make_mail(subject=s, message_id=f"<{s}@cliente.com.br>")
        for s in ("Primeiro", "Segundo", "Terceiro")
    ]
    outcomes = [r.outcome for r in _results(ingest_raw_emails(raws, door="pipe"))]
    assert outcomes == ["created", "quarantined", "created"]
    assert set(MailId.objects.filter(outbound=False).values_list("message_id", flat=True)) == {
        "Primeiro@cliente.com.br",
        "Terceiro@cliente.com.br",
    }
    assert set(Ticket.objects.values_list("subject", flat=True)) == {"Primeiro", "Terceiro"}

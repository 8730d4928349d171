"""B9 (issue 16): charset abuse in subjects, display names, bodies and file
names: unknown charsets, UTF-7, mislabelled 8-bit, invalid UTF-8 in headers,
RFC 2047 words carrying CR, LF and NUL, ISO-2022 escapes (declared, bare,
cut), controls in bodies.

Every mail goes through the real doors: all of them at once through
`manage.py ingest_email FILE...` (the batch path, its worker processes) and
again in one session through `manage.py smtpd`. Checked: never a crash (each
mail a ticket, no quarantine with a traceback); then every text column of
every table the mails reached (tickets, messages, attachments, people,
inbound rows, verdicts, events, outbox) walked, row by row: valid UTF-8,
and no C0 control but tab and newline. The decoding itself (what each case
reads as) is checked in this process, case by case.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import models

from helpdesk.models import User
from mailgateway.models import InboundMessage
from mailgateway.parse import parse_email
from tests.abuse import bombs
from tests.abuse.bombs import door_env  # noqa: F401 (fixture)
from tests.faults.conftest import child_env  # noqa: F401 (fixture)
from tests.mailgateway.conftest import _raw_dir  # noqa: F401 (autouse fixture)

HEAD = b"To: support@example.com\r\nDate: Wed, 25 Nov 2026 10:00:00 -0300\r\nMIME-Version: 1.0\r\n"
FROM = b"From: Carla <carla@cliente.com.br>\r\n"


def _mail(tag: str, *, head: bytes = b"", body: bytes = b"corpo\r\n", sender: bytes = b"",
          ctype: bytes = b"Content-Type: text/plain; charset=utf-8\r\n") -> bytes:  # fmt: skip
    # A sender of its own per case: the loop guard quarantines a 21st mail
    # from one address within ten minutes.
    sender = sender or b"From: Carla <carla.%s@cliente.com.br>\r\n" % tag.encode()
    if b"Subject:" not in head:
        head = b"Subject: %s\r\n" % tag.encode() + head
    return (
        sender
        + HEAD
        + b"Message-ID: <%s@b9.test>\r\n" % tag.encode()
        + head
        + ctype
        + b"\r\n"
        + body
    )


def _with_file(tag: str, disposition: bytes, *, head: bytes = b"") -> bytes:
    body = (
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsegue\r\n--B\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; " + disposition + b"\r\n\r\n"
        + base64.b64encode(b"conteudo") + b"\r\n--B--\r\n"
    )  # fmt: skip
    ctype = b"Content-Type: multipart/mixed; boundary=B\r\n"
    return _mail(
        tag, head=b"Subject: anexo " + tag.encode() + b"\r\n" + head, body=body, ctype=ctype
    )


PLAIN = b"Content-Type: text/plain; charset=%s\r\n"
ESC_JP = "日本語".encode("iso-2022-jp")  # b"\x1b$BF|K\\8l\x1b(B"

SPOOF = b"From: =?utf-8?q?Chefe:ceo@cliente.com.br,?= <intruso@evil.example>\r\n"
CC = b"=?utf-8?b?" + base64.b64encode(b"Bia\x00\x1b\r\nX") + b"?= <bia@cliente.com.br>"

CASES: dict[str, bytes] = {
    # Bodies.
    "body-unknown-charset": _mail("b1", body="Ação".encode("latin-1"),
                                  ctype=PLAIN % b"x-nonexistent"),
    "body-utf7": _mail("b2", body=b"A+ZeVnLIqe- e +AAAABwAb- fim", ctype=PLAIN % b'"utf-7"'),
    "body-utf8-label-latin1-bytes": _mail("b3", body="Ação e \x93aspas\x94".encode("latin-1")),
    "body-ascii-label-8bit": _mail("b4", body="Olá \xff\xfe".encode("latin-1"),
                                   ctype=PLAIN % b"us-ascii"),
    "body-iso2022jp": _mail("b5", body=ESC_JP + b"\r\n", ctype=PLAIN % b"iso-2022-jp"),
    "body-iso2022-cut-escape": _mail("b6", body=b"\x1b$BF|K\\ \x1b$ \x1b(",
                                     ctype=PLAIN % b"iso-2022-jp"),
    "body-controls": _mail(
        "b7", body=b"a\x00b\x01c\x07d\x08e\x0bf\x0cg\x1b[31mh\x7fi\r\nj\rk\x85l"),
    "body-utf16-lie": _mail("b8", body=b"\xff\xfeA\x00\x00\x00B\x00\xd8\x00",
                            ctype=PLAIN % b"utf-16"),
    "body-html-controls": _mail("b9", body=b"<p>x\x00y\x1b\x07 &#0; &#x1b; &#xD800; \xc3\x28</p>",
                                ctype=b"Content-Type: text/html; charset=utf-8\r\n"),
    "body-charset-label-nul": _mail("b10", body="Ação".encode("latin-1"),
                                    ctype=PLAIN % b'"iso-8859-1\x00x"'),
    "body-base64-invalid-utf8": _mail(
        "b11", head=b"Content-Transfer-Encoding: base64\r\n",
        body=base64.b64encode(b"ok \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \x00fim") + b"\r\n"),
    # Subjects.
    "subject-encoded-crlf-nul": _mail("s1", head=b"Subject: =?utf-8?q?a=0D=0ABcc:_x@y=00z?=\r\n"),
    "subject-b64-controls": _mail(
        "s2", head=b"Subject: =?utf-8?b?" + base64.b64encode(b"x\x00\x07\x1b[2J\r\ny") + b"?=\r\n"),
    "subject-unknown-charset": _mail("s3", head=b"Subject: =?x-nonexistent?q?caf=E9?=\r\n"),
    "subject-utf7": _mail("s4", head=b"Subject: =?utf-7?q?+ZeVnLIqe-_+AAAACgAN-?=\r\n"),
    "subject-raw-invalid-utf8": _mail("s5", head=b"Subject: \xff\xfe \xc3\x28 \xed\xa0\x80\r\n"),
    "subject-raw-latin1": _mail("s6", head="Subject: Ação crua".encode("latin-1") + b"\r\n"),
    "subject-iso2022-bare": _mail("s7", head=b"Subject: " + ESC_JP + b" bare\r\n"),
    "subject-iso2022-word": _mail(
        "s8", head=b"Subject: =?iso-2022-jp?b?" + base64.b64encode(ESC_JP) + b"?=\r\n"),
    "subject-iso2022-cut": _mail("s9", head=b"Subject: =?iso-2022-jp?q?=1B$BF|K?= cut\r\n"),
    "subject-bad-b64": _mail("s10", head=b"Subject: =?utf-8?b?w6A?= =?utf-8?b?!!?=\r\n"),
    # Display names (the requester's name, Cc people).
    "from-encoded-crlf": _mail(
        "d1", sender=b"From: =?utf-8?q?Ana=0D=0ABcc:_x@y=00?= <ana@cliente.com.br>\r\n"),
    "from-raw-invalid-utf8": _mail(
        "d2", sender=b'From: "Jo\xe3o \xff\xc3\x28" <joao@cliente.com.br>\r\n'),
    "from-utf7": _mail("d3", sender=b"From: =?utf-7?q?Z+AAAAGw-e?= <ze@cliente.com.br>\r\n"),
    "from-iso2022-bare": _mail("d4", sender=b"From: " + ESC_JP + b" <jp@cliente.com.br>\r\n"),
    "cc-controls": _mail(
        "d5", head=b"Cc: " + CC + b', "C\xe9sar\x07" <cesar@cliente.com.br>\r\n'),
    "from-encoded-specials": _mail("d6", sender=SPOOF),
    # File names.
    "file-encoded-controls": _with_file("f1", b'filename="=?utf-8?q?a=00b=0D=0Ac=1B.txt?="'),
    "file-rfc2231-controls": _with_file("f2", b"filename*=utf-8''a%00b%0D%0Ac%1B%7F.txt"),
    "file-rfc2231-unknown-charset": _with_file("f3", b"filename*=x-nonexistent''caf%E9.txt"),
    "file-raw-invalid-utf8": _with_file("f4", b'filename="r\xff\xc3\x28\xed\xa0\x80.txt"'),
    "file-utf7": _with_file("f5", b'filename="=?utf-7?q?+ZeVnLIqe-+AAA-.txt?="'),
    "file-iso2022-bare": _with_file("f6", b'filename="' + ESC_JP + b'.txt"'),
}  # fmt: skip


def _again(raw: bytes) -> bytes:
    """The same mail as another one: a new Message-ID and Date."""
    return raw.replace(b"@b9.test>", b"@b9-smtp.test>").replace(b"10:00:00", b"11:00:00")


def _bad_chars(value: str) -> list[str]:
    """What makes a stored string unfit: a C0 control but tab and newline,
    DEL, or a lone surrogate (not valid UTF-8: PostgreSQL refuses it)."""
    bad = [repr(ch) for ch in value if (ord(ch) < 32 and ch not in "\t\n") or ch == "\x7f"]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad.append(f"not UTF-8: {exc.reason}")
    return bad


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


# Columns that hold what we wrote, not what came: hashes, paths, sessions.
SKIPPED = {("sessions", "session"), ("auth", "permission"), ("contenttypes", "contenttype")}


def walk_text_columns() -> tuple[int, int, list[str]]:
    """Every text column of every row in the database: (rows, values, faults)."""
    rows = values = 0
    faults: list[str] = []
    for model in apps.get_models():
        meta = model._meta
        if (meta.app_label, meta.model_name) in SKIPPED or not meta.managed:
            continue
        fields = [
            f.attname
            for f in meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):
            rows += 1
            for name, value in zip(fields, row, strict=True):
                for text in _strings(value):
                    values += 1
                    bad = _bad_chars(text)
                    if bad:
                        faults.append(f"{meta.label}.{name}: {text[:80]!r} {bad[:3]}")
    return rows, values, faults


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_charset_abuse_through_the_pipe_and_the_listener_never_stores_a_control_or_bad_utf8(
    door_env: dict[str, str],  # noqa: F811
    _raw_dir: Path,  # noqa: F811
    tmp_path: Path,
    figures: Any,
) -> None:
    files = []
    for i, raw in enumerate(CASES.values()):
        path = tmp_path / f"case-{i:02d}.eml"
        path.write_bytes(raw)
        files.append(str(path))
    run = bombs.run_manage(door_env, tmp_path, "ingest_email", *files)
    assert run.code == 0, run.err + run.out
    with bombs.listener(door_env, tmp_path) as server:
        # Again over SMTP: the same mails are duplicates by Message-ID, so
        # each goes under a new one (the listener's own path, not a dedupe).
        codes = [server.send(_again(raw)).code for raw in CASES.values()]
        bombs.wait_processed(2 * len(CASES))
    assert codes == [250] * len(CASES)

    outcomes = dict(InboundMessage.objects.values_list("message_id", "outcome"))
    crashed = list(InboundMessage.objects.exclude(traceback="").values_list("message_id", "error"))
    rows, values, faults = walk_text_columns()
    figures({"mails": len(CASES), "doors": 2, "rows_walked": rows, "values_walked": values,
             "faults": len(faults), "crashed": len(crashed), "batch_seconds": round(run.seconds, 2),
             "batch_rss_mb": round(run.rss_mb, 1),
             "outcomes": sorted(set(outcomes.values()))})  # fmt: skip
    assert crashed == []
    quarantined = InboundMessage.objects.filter(outcome="quarantined")
    assert set(outcomes.values()) == {"created"}, list(
        quarantined.values_list("message_id", "error")
    )
    assert faults == [], "\n".join(faults[:40])
    # The address encoded inside a display name is nobody's: not a requester.
    assert not User.objects.filter(email="ceo@cliente.com.br").exists()
    assert User.objects.filter(email="intruso@evil.example").exists()


# What each reads as (in this process): readable text, one clean line.


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (b"Content-Type: text/plain; charset=x-unknown\r\n", "Ação".encode("latin-1"), "Ação"),
        (b"Content-Type: text/plain; charset=utf-8\r\n", "Ação".encode("latin-1"), "Ação"),
        (b"Content-Type: text/plain; charset=iso-8859-1\r\n", b"\x93aspas\x94 \x80", "“aspas” €"),
        (b"Content-Type: text/plain; charset=windows-1252\r\n", b"\x93ok\x94", "“ok”"),
        (b"Content-Type: text/plain\r\n", "sem declaração".encode("latin-1"), "sem declaração"),
        (b'Content-Type: text/plain; charset="utf-7"\r\n', b"A+ZeVnLIqe-", "A日本語"),
        (b"Content-Type: text/plain; charset=iso-2022-jp\r\n", "日本".encode("iso-2022-jp"),
         "日本"),
        (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
         b"QcOnw6NvIGNvbSBiYXNlNjQ=", "Ação com base64"),
        (b"Content-Type: text/plain; charset=iso-8859-1\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n", b"A=E7=E3o=\r\n QP", "Ação QP"),
        (b"Content-Type: text/plain; charset=utf-8\r\n", b"ctrl\x00\x07\x1b[31mx\x7f", "ctrl[31mx"),
    ],
)  # fmt: skip
def test_every_charset_reads_as_clean_text(headers: bytes, body: bytes, expected: str) -> None:
    raw = FROM + HEAD + b"Subject: charset\r\n" + headers + b"\r\n" + body + b"\r\n"
    assert parse_email(raw).text.strip() == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (b"From: " + ESC_JP + b" <jp@cliente.com.br>", ("日本語", "jp@cliente.com.br")),
        (b'From: "' + ESC_JP + b'" <jp@cliente.com.br>', ("日本語", "jp@cliente.com.br")),
        (
            b"From: =?utf-8?q?Ana=0D=0ABcc:_x@y=00?= <ana@x.example>",
            ("Ana Bcc: x@y", "ana@x.example"),
        ),
        (b"From: =?utf-7?q?Z+AAAAGw-e?= <ze@x.example>", ("Ze", "ze@x.example")),
        # Specials encoded in a name stay in the name (CVE-2023-27043's kind).
        (
            b"From: =?utf-8?q?x:ceo@company.com,?= <attacker@evil.example>",
            ("x:ceo@company.com,", "attacker@evil.example"),
        ),
        (
            b"From: Maria =?utf-8?q?Concei=C3=A7=C3=A3o?= <m@x.example>",
            ("Maria Conceição", "m@x.example"),
        ),
    ],
)
def test_display_names_decode_to_one_clean_line(sender: bytes, expected: tuple[str, str]) -> None:
    mail = parse_email(sender + b"\r\n" + HEAD + b"Subject: x\r\n\r\nx\r\n")
    assert mail.from_ is not None and (mail.from_.name, mail.from_.email) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"=?utf-8?q?a=0D=0ABcc:_x@y=00z?=", "a Bcc: x@yz"),
        (b"=?iso-8859-1?q?Solicita=E7=E3o?= =?utf-8?b?w6A=?= pasta", "Solicitaçãoà pasta"),
        (b"=?x-unknown?q?caf=E9?=", "café"),
        (b"=?utf-8?b?broken", "=?utf-8?b?broken"),
        ("Ação crua".encode("latin-1"), "Ação crua"),
        ("Ação crua utf8".encode(), "Ação crua utf8"),
        (b"=?iso-2022-jp?b?" + base64.b64encode(ESC_JP) + b"?=", "日本語"),
        (ESC_JP + b" bare", "日本語 bare"),
    ],
)
def test_subjects_decode_to_one_clean_line(subject: bytes, expected: str) -> None:
    mail = parse_email(FROM + HEAD + b"Subject: " + subject + b"\r\n\r\nx\r\n")
    assert mail.subject == expected

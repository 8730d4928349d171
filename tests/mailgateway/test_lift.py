"""Large base64 attachments are decoded straight from the raw bytes, the rest
of the mail parsed by mail-parser (parse.lift_base64_bodies): the result must
be exactly what parsing the whole mail gives, whatever the mail looks like."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from typing import Any

import pytest
from hypothesis import given, settings

from mailgateway import parse
from mailgateway.parse import lift_base64_bodies, parse_email
from tests.mailgateway.conftest import FIXTURES, fixture_bytes
from tests.mailgateway.test_properties import SETTINGS, mails

# mail-parser names a nameless attached part "<10 random letters>.txt|.rtf".
RANDOM_NAME = re.compile(r"[a-z]{10}\.(txt|rtf)")


def _stable(mail: parse.InboundEmail) -> parse.InboundEmail:
    attachments = tuple(
        dataclasses.replace(a, filename="random") if RANDOM_NAME.fullmatch(a.filename) else a
        for a in mail.attachments
    )
    return dataclasses.replace(mail, attachments=attachments)


def _whole(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> parse.InboundEmail:
    with monkeypatch.context() as m:
        m.setattr(parse, "LIFT_MIN_BYTES", 1 << 62)  # never lift
        return _stable(parse_email(raw))


def _lifted(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> parse.InboundEmail:
    with monkeypatch.context() as m:
        m.setattr(parse, "LIFT_MIN_BYTES", 1)  # lift every base64 part it can
        return _stable(parse_email(raw))


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def _mail(*parts: bytes, eol: bytes = b"\r\n") -> bytes:
    """A multipart/mixed mail of parts (written with LF), lines ended by eol."""
    head = (
        b"From: Ana <ana@cliente.example>\nTo: support@example.com\nSubject: Nota\n"
        b"Message-ID: <lift@cliente.example>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="zz"\n\n'
    )
    body = b"".join(b"--zz\n" + p + b"\n" for p in parts) + b"--zz--\n"
    return (head + body).replace(b"\n", eol)


PDF = os.urandom(300_000)
TEXT_PART = b"Content-Type: text/plain; charset=utf-8\n\nSegue a nota em anexo.\n"


def _attachment(data: bytes, head: bytes) -> bytes:
    return head + b"\n" + _b64(data)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_a_large_attachment_is_lifted_and_decoded_to_the_same_bytes(
    eol: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _mail(
        TEXT_PART,
        _attachment(
            PDF,
            b'Content-Type: application/pdf; name="nota.pdf"\n'
            b"Content-Transfer-Encoding: base64\n"
            b'Content-Disposition: attachment; filename="nota.pdf"\n',
        ),
        eol=eol,
    )
    skeleton, lifted = lift_base64_bodies(raw)
    assert list(lifted.values()) == [PDF]
    assert len(skeleton) < 2_000  # the parser never sees the 400 KB of base64

    mail = parse_email(raw)
    assert mail == _whole(raw, monkeypatch)
    assert [(a.filename, a.payload) for a in mail.attachments] == [("nota.pdf", PDF)]
    assert mail.text.strip() == "Segue a nota em anexo."


def test_an_inline_image_keeps_its_content_id(monkeypatch: pytest.MonkeyPatch) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(20_000)
    raw = _mail(
        b'Content-Type: text/html; charset=utf-8\n\n<p>Veja <img src="cid:img1@x"></p>\n',
        _attachment(
            png,
            b"Content-Type: image/png\nContent-Transfer-Encoding: base64\nContent-ID: <img1@x>\n",
        ),
    )
    assert lift_base64_bodies(raw)[1]
    mail = parse_email(raw)
    assert mail == _whole(raw, monkeypatch)
    assert mail.attachments[0].payload == png
    assert mail.attachments[0].content_id == "img1@x"


@pytest.mark.parametrize(
    "head",
    [
        # The text body itself: mail-parser must decode it as text.
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
        # A forwarded mail: parsed as a mail, not a file.
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n",
    ],
)
def test_text_and_message_bodies_stay_with_the_parser(head: bytes) -> None:
    text = ("Olá, equipe! Não consigo emitir a nota. " * 300).encode()
    raw = _mail(_attachment(text, head))
    assert lift_base64_bodies(raw)[1] == {}


def test_base64_lines_pasted_into_a_text_body_stay_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # A mail quoting another mail's source: a "part" inside the text body.
    pasted = (
        b"Veja o que recebi:\n--zz-not-ours\nContent-Type: application/pdf\n"
        b"Content-Transfer-Encoding: base64\n\n" + _b64(os.urandom(9_000))
    )
    raw = _mail(b"Content-Type: text/plain; charset=utf-8\n\n" + pasted)
    assert lift_base64_bodies(raw)[1]  # it looks like a part to the quick scan ...
    mail = _lifted(raw, monkeypatch)
    assert mail == _whole(raw, monkeypatch)  # ... and the check sends it back whole
    assert "hdlift" not in mail.text
    assert "Content-Transfer-Encoding: base64" in mail.text


def test_broken_base64_is_repaired_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _b64(PDF)[:-7] + b"\n"  # padding gone: binascii refuses it
    raw = _mail(
        TEXT_PART,
        b'Content-Type: application/pdf; name="a.pdf"\nContent-Transfer-Encoding: base64\n'
        b"\n" + broken,
    )
    assert lift_base64_bodies(raw)[1] == {}
    mail = parse_email(raw)
    assert mail == _whole(raw, monkeypatch)
    assert mail.attachments[0].payload[:1000] == PDF[:1000]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
def test_every_fixture_parses_alike_lifted_or_whole(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = fixture_bytes(name)
    assert _lifted(raw, monkeypatch) == _whole(raw, monkeypatch)


@settings(SETTINGS, max_examples=300)
@given(raw=mails())
def test_generated_mime_trees_parse_alike_lifted_or_whole(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        whole: Any = _whole(raw, monkeypatch)
    except Exception as exc:  # a structure bomb: lifting must raise it too
        with pytest.raises(type(exc)):
            _lifted(raw, monkeypatch)
        return
    assert _lifted(raw, monkeypatch) == whole

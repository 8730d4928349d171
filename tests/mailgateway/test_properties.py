"""B2: over generated MIME trees, ingest is total (a ticket entry or the
quarantine, never an exception) and idempotent (twice = one entry)."""

from __future__ import annotations

import base64
import itertools
import quopri
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tickets.models import Message

pytestmark = pytest.mark.django_db

SEQUENCE = itertools.count()
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "utf-7", "x-bogus", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-weird"]
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _encode(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if cte == "quoted-printable":
        return quopri.encodestring(data).replace(b"\n", b"\r\n")
    return data


@st.composite
def leaf(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["text/plain", "text/html", "application/octet-stream",
                                 "image/png", "message/rfc822", "text/calendar"]))  # fmt: skip
    charset = draw(st.sampled_from(CHARSETS))
    declared = draw(st.sampled_from(CHARSETS))  # may lie about the charset
    cte = draw(st.sampled_from(ENCODINGS))
    text = draw(st.text(max_size=200))
    try:
        data = text.encode(charset or "utf-8", "replace")
    except LookupError:
        data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=50))
    head = f"Content-Type: {kind}"
    if declared:
        head += f"; charset={declared}"
    head += f"\r\nContent-Transfer-Encoding: {cte}\r\n"
    if draw(st.booleans()):
        name = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
        head_bytes = (
            head.encode() + b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
        )
    else:
        head_bytes = head.encode()
    if draw(st.booleans()):
        head_bytes += b"Content-ID: <" + draw(st.binary(max_size=20)) + b">\r\n"
    return head_bytes + b"\r\n" + _encode(data, cte)


def multipart(children: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: Any) -> bytes:
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
        boundary = f"b{draw(st.integers(0, 10**9))}".encode()
        parts = draw(children)
        body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
        close = b"" if draw(st.integers(0, 9)) == 0 else b"--" + boundary + b"--\r\n"
        return (
            b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"\r\n'
            b"\r\n" + body + close
        )

    return build()


trees = st.recursive(leaf(), lambda inner: multipart(st.lists(inner, min_size=0, max_size=4)),
                     max_leaves=12)  # fmt: skip


@st.composite
def mails(draw: Any) -> bytes:
    subject = draw(st.text(max_size=80)).encode("utf-8", "surrogatepass")
    name = draw(st.text(max_size=30)).encode("utf-8", "surrogatepass")
    local = draw(st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True))
    head = (
        b"From: " + name.replace(b"\r", b"").replace(b"\n", b"") + b" <" + local.encode()
        + b"@cliente.example>\r\nTo: support@example.com\r\nSubject: "
        + subject.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"
    )  # fmt: skip
    if draw(st.booleans()):
        head += b"Message-ID: <SEQ@cliente.example>\r\n"
    extra = draw(
        st.sampled_from(
            [
                b"",
                b"In-Reply-To: <nope@x>\r\n",
                b"Auto-Submitted: auto-replied\r\n",
                b"References: " + b"<r@x> " * 100 + b"\r\n",
            ]
        )
    )
    return head + extra + b"MIME-Version: 1.0\r\n" + draw(trees)


@SETTINGS
@given(raw=mails())
def test_ingest_is_total_and_idempotent(raw: bytes) -> None:
    # Every example is a new mail (hypothesis replays examples on one database).
    seq = str(next(SEQUENCE)).encode()
    raw = (
        b"Date: Wed, 25 Nov 2026 10:00:00 -0300 (example " + seq + b")\r\n"
        + raw.replace(b"<SEQ@", b"<" + seq + b"@", 1)
    )  # fmt: skip
    first = ingest_raw_email(raw, door="pipe")
    assert first.outcome in {"created", "replied", "autoreply", "quarantined"}
    entries = Message.objects.count()
    second = ingest_raw_email(raw, door="imap")
    assert second.outcome == "duplicate"
    assert second.reference == first.reference
    assert Message.objects.count() == entries
    row = InboundMessage.objects.get(pk=first.inbound_id)
    if row.outcome == "quarantined":
        assert row.error and row.raw_path
    for message in Message.objects.filter(ticket=row.ticket):
        assert not any(ord(c) < 32 and c not in "\t\n" for c in message.body)


@SETTINGS
@given(
    text=st.text(
        st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t"),
        min_size=1,
        max_size=300,
    )
)
def test_plain_text_bodies_round_trip(text: str) -> None:
    body = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    seq = str(next(SEQUENCE)).encode()
    raw = (
        b"From: c" + seq + b"@cliente.example\r\nTo: support@example.com\r\nSubject: rt\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
    )
    result = ingest_raw_email(raw, door="pipe")
    assert result.outcome == "created"
    stored = Message.objects.get(ticket__reference=result.reference).body
    # NFC-equal (B2): mail-parser normalises decoded text to NFC.
    assert stored == unicodedata.normalize("NFC", text).strip()

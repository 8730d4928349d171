"""Headers that lie (issue 13, section 3): no usable From, and header blocks
the parser would end early (an unindented continuation, a stray first line,
a header name in raw 8-bit), so that From and Subject were lost.

The fixtures in tests/fixtures/email/real/headers/ were written for these
tests: each case names the expected sender, the header it came from ("" when
there is none and the mail is quarantined), the subject and a body snippet."""

# Real mail is full of full-width punctuation and typographic dashes.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgateway.ingest import IngestResult, ingest_raw_email
from mailgateway.models import InboundMessage
from mailgateway.parse import parse_email, repair_header_block, with_fallback_sender
from tests.mailgateway.conftest import FIXTURES, fixture_bytes
from tickets.models import Ticket

HEADERS = FIXTURES / "real" / "headers"

# (fixture, sender, header the sender came from, subject, body snippet)
CASES = [
    ("no_from_reply_to", "ana@customer.example", "reply-to", "Sem remetente", "pedido 123"),
    ("no_from_sender", "bruno@customer.example", "sender", "Only a Sender header", "call me back"),
    (
        "no_from_return_path",
        "carla@customer.example",
        "return-path",
        "Only a return path",
        "invoice is wrong",
    ),
    (
        "no_from_reply_to_beats_sender",
        "dora@customer.example",
        "reply-to",
        "Reply-To first",
        "not the list",
    ),
    ("from_empty_angle_cjk_name", "wo@customer.example", "reply-to", "无法登录", "账户无法登录"),
    (
        "from_bare_display_name",
        "maria.silva@customer.example",
        "sender",
        "Bare display name",
        "name in From",
    ),
    ("two_from_first_garbage", "eva@customer.example", "from#2", "Two From headers", "second From"),
    ("two_from_first_empty", "fabio@customer.example", "from#2", "Empty then real", "Hello"),
    (
        "from_broken_encoded_word",
        "gil@customer.example",
        "return-path",
        "Broken From word",
        "never closed",
    ),
    ("no_from_null_return_path", "", "", "Nobody at all", "No address"),
    ("daemon_sender_not_a_stand_in", "", "", "Undelivered Mail Returned to Sender", "mail system"),
    (
        "unindented_subject_continuation",
        "helena@customer.example",
        "from",
        "Problema com a fatura de novembro e dezembro",
        "Veja acima",
    ),
    (
        "unindented_to_continuation",
        "ivo@customer.example",
        "from",
        "Folded To lost its indent",
        "Both teams",
    ),
    (
        "stray_original_message_line",
        "joana@customer.example",
        "from",
        "Pasted from webmail",
        "Forwarded by hand",
    ),
    (
        "stray_line_then_blank",
        "karl@customer.example",
        "from",
        "Stray line and a blank",
        "Blank after",
    ),
    ("mbox_from_line", "karl@customer.example", "from", "Saved from mbox", "Saved by"),
    ("mbox_escaped_from_line", "luis@customer.example", "from", "Escaped mbox line", "Quoted From"),
    ("two_stray_lines", "mara@customer.example", "from", "Two stray lines", "Forwarded twice"),
    (
        "stray_line_and_unindented",
        "nina@customer.example",
        "from",
        "Start continued here",
        "Both problems",
    ),
    ("stray_line_lf_only", "otto@customer.example", "from", "Bare LF endings", "Unix line endings"),
    (
        "raw8bit_utf8_from_and_subject",
        "paula@customer.example",
        "from",
        "Dúvida sobre cobrança",
        "Olá",
    ),
    ("raw8bit_header_name", "quim@customer.example", "from", "Nome de cabeçalho", "8-bit name"),
    (
        "raw8bit_latin1_hinted",
        "rui@customer.example",
        "from",
        "Orçamento nº 5",
        "Segue o orçamento",
    ),
    ("raw8bit_gb_hinted", "wang@customer.example", "from", "关于镕的发票", "请查收发票"),
    ("raw_iso2022jp_subject", "sato@customer.example", "from", "①の件", "7-bit JIS"),
    (
        "raw8bit_cp1252_no_hint",
        "tiago@customer.example",
        "from",
        "Devolução – pedido “42”",
        "Plain ASCII",
    ),
    (
        "continuation_with_8bit_and_stray",
        "ursula@customer.example",
        "from",
        "Reclamação sobre a entrega",
        "Everything at once",
    ),
]


def _raw(name: str) -> bytes:
    return (HEADERS / f"{name}.eml").read_bytes()


def test_every_fixture_has_a_case() -> None:
    assert {p.stem for p in Path(HEADERS).glob("*.eml")} == {case[0] for case in CASES}


@pytest.mark.parametrize(("name", "sender", "header", "subject", "snippet"), CASES)
def test_it_recovers_sender_subject_and_body(
    name: str, sender: str, header: str, subject: str, snippet: str
) -> None:
    mail = with_fallback_sender(parse_email(_raw(name)))
    assert mail.sender == sender
    assert (mail.from_header if mail.sender else "") == header
    assert mail.subject == subject
    assert snippet in mail.text


def test_the_parser_sees_the_empty_from_until_a_stand_in_is_chosen() -> None:
    mail = parse_email(_raw("from_empty_angle_cjk_name"))
    assert mail.from_ is None and mail.from_display == "我"
    chosen = with_fallback_sender(mail)
    assert chosen.from_ is not None
    assert (chosen.from_.name, chosen.from_.email) == ("我", "wo@customer.example")


def test_the_envelope_sender_is_the_last_stand_in() -> None:
    mail = parse_email(_raw("no_from_null_return_path"))
    assert with_fallback_sender(mail, "<").sender == ""
    chosen = with_fallback_sender(mail, "<zeca@customer.example>")
    assert (chosen.sender, chosen.from_header) == ("zeca@customer.example", "envelope")
    assert with_fallback_sender(mail, "MAILER-DAEMON@mx.example").sender == ""


def test_a_well_formed_header_block_is_left_as_it_is() -> None:
    for path in sorted(FIXTURES.glob("*.eml")):
        raw = path.read_bytes()
        assert repair_header_block(raw) == (raw, ()), path.name


def test_what_was_mended_is_listed_with_the_defects() -> None:
    mail = parse_email(_raw("stray_line_and_unindented"))
    assert "HeaderRepair: skipped 1 line(s) before the headers" in mail.defects
    assert any(d.startswith("HeaderRepair: unindented continuation") for d in mail.defects)


def test_a_body_without_a_blank_line_stays_body() -> None:
    raw = b"From: ana@customer.example\r\nSubject: hi\r\nno blank line here\r\nsecond line\r\n"
    mail = parse_email(raw)
    assert (mail.sender, mail.subject) == ("ana@customer.example", "hi")
    assert "no blank line here" in mail.text


def test_a_body_line_that_looks_like_a_header_does_not_swallow_the_body() -> None:
    raw = b"From: ana@customer.example\r\nSubject: hi\r\nHello team,\r\nNote: it is broken\r\n"
    mail = parse_email(raw)
    assert mail.subject == "hi"
    assert "Hello team," in mail.text
    assert not any(d.startswith("HeaderRepair") for d in mail.defects)


@pytest.mark.django_db
def test_a_ticket_from_reply_to_records_the_header_used() -> None:
    result = ingest_raw_email(_raw("from_empty_angle_cjk_name"), door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.created_by.email == "wo@customer.example"
    assert ticket.subject == "无法登录"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.from_address == "wo@customer.example"
    assert row.verdict["sender_header"] == "reply-to"


@pytest.mark.django_db
def test_a_ticket_from_the_envelope_sender_records_it() -> None:
    result = ingest_raw_email(
        _raw("no_from_null_return_path"), door="smtp", envelope_from="zeca@customer.example"
    )
    assert result.outcome == "created"
    assert Ticket.objects.get(reference=result.reference).created_by.email == (
        "zeca@customer.example"
    )
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.verdict["sender_header"] == "envelope"


@pytest.mark.django_db
def test_the_second_from_header_is_recorded() -> None:
    result = ingest_raw_email(_raw("two_from_first_garbage"), door="pipe")
    assert Ticket.objects.get(reference=result.reference).created_by.email == "eva@customer.example"
    assert InboundMessage.objects.get(pk=result.inbound_id).verdict["sender_header"] == "from#2"


@pytest.mark.django_db
def test_a_recovered_header_block_makes_an_ordinary_ticket() -> None:
    result = ingest_raw_email(_raw("continuation_with_8bit_and_stray"), door="imap")
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.subject == "Reclamação sobre a entrega"
    assert ticket.created_by.email == "ursula@customer.example"
    assert "sender_header" not in InboundMessage.objects.get(pk=result.inbound_id).verdict


@pytest.mark.django_db
def test_mail_with_no_stand_in_is_still_quarantined() -> None:
    result = ingest_raw_email(_raw("no_from_null_return_path"), door="pipe")
    assert result.outcome == "quarantined"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.error == "no usable From address"
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_a_daemon_notice_with_an_empty_from_never_becomes_a_ticket() -> None:
    # "From: Mail Delivery System <>" with a Sender of MAILER-DAEMON: the
    # daemon is no stand-in, so the mail is a bounce or held, never a customer's.
    result = ingest_raw_email(_raw("daemon_sender_not_a_stand_in"), door="pipe")
    assert result.outcome in ("bounce", "quarantined")
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_a_bounce_with_an_empty_from_stays_a_bounce() -> None:
    # The DSN fixture's From is rewritten to "Mail Delivery System <>" and a
    # Reply-To added: it is classified before any stand-in is chosen.
    raw = fixture_bytes("postfix_dsn_bounce.eml")
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    lines = [line for line in head.splitlines() if not line.lower().startswith(b"from:")]
    nl = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    head = nl.join(
        [b"From: Mail Delivery System <>", b"Reply-To: someone@customer.example", *lines]
    )
    result = ingest_raw_email(head + sep + body, door="smtp", envelope_from="")
    assert result.outcome == "bounce"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.from_address == ""
    assert "sender_header" not in row.verdict
    assert not Ticket.objects.exists()


_STRAY = [
    b"",
    b"---- Original email message ----\r\n",
    b"From x@y.example Fri Dec  4 11:00:00 2026\r\n",
    b"-----Original Message-----\r\n\r\n",
    b">From x@y.example\r\n",
]


@settings(max_examples=100, deadline=None)
@given(
    stray=st.sampled_from(_STRAY),
    words=st.lists(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), min_size=2, max_size=8),
    cut=st.integers(1, 7),
    local=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
)
def test_mended_headers_keep_sender_and_subject(
    stray: bytes, words: list[str], cut: int, local: str
) -> None:
    cut = min(cut, len(words) - 1)
    first, rest = " ".join(words[:cut]), " ".join(words[cut:])
    head = f"Subject: {first}\r\n{rest}\r\nFrom: <{local}@customer.example>\r\n"
    raw = stray + head.encode() + b"To: support@example.com\r\n\r\nbody\r\n"
    mail = parse_email(raw)
    assert mail.sender == f"{local}@customer.example"
    assert mail.subject == " ".join(words)
    assert mail.text.strip() == "body"


@pytest.mark.django_db
def test_our_own_address_never_stands_in_for_a_missing_from() -> None:
    # A From-less mail whose Reply-To is the support address would make us
    # our own customer (and answer ourselves): the next stand-in is taken.
    raw = _raw("no_from_reply_to").replace(
        b"Reply-To: Ana Lima <ana@customer.example>",
        b"Reply-To: support@example.com\r\nSender: ana@customer.example",
    )
    result = ingest_raw_email(raw, door="pipe")
    assert Ticket.objects.get(reference=result.reference).created_by.email == "ana@customer.example"
    assert InboundMessage.objects.get(pk=result.inbound_id).verdict["sender_header"] == "sender"


@pytest.mark.django_db
@pytest.mark.parametrize("batched", [False, True])
def test_a_borrowed_sender_is_known_for_who_they_are(batched: bool) -> None:
    # An agent's address borrowed from Reply-To is an agent's, on the batch
    # path too: held as unverified staff mail, as a From of theirs would be.
    from helpdesk.models import User
    from helpdesk.roles import Role
    from mailgateway.batch import ingest_raw_emails

    User.objects.create(email="ana@customer.example", full_name="Ana Lima", role=Role.AGENT)
    raw = _raw("no_from_reply_to")
    if batched:
        (result,) = ingest_raw_emails([raw], door="pipe")
    else:
        result = ingest_raw_email(raw, door="pipe")
    assert isinstance(result, IngestResult) and result.outcome == "quarantined"
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.verdict["held"] == "unverified_staff"
    assert row.verdict["sender_header"] == "reply-to"

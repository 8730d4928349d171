"""Charsets that lie (issue 13, section 2): mail decoded the way browsers and
mature mail clients decode it (WHATWG encoding labels), in subjects, bodies
and attached file names; undeclared 8-bit text read as UTF-8 first, then in
the charset the rest of the mail declares, then guessed.

The fixtures in tests/fixtures/email/real/charsets/ were written for these
tests: each case names its expected sender, subject, a snippet of the body
and, for the attachment cases, the decoded file name."""

# Real mail is full of full-width punctuation and typographic dashes.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

import pytest

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from mailgateway.parse import charset_codec, decode_bytes, decode_iso2022jp, parse_email
from mailgateway.sanitize import html_to_text
from tests.mailgateway.conftest import FIXTURES
from tickets.models import Ticket

CHARSETS = FIXTURES / "real" / "charsets"

# (fixture, sender, subject, body snippet, attached file name or None)
CASES = [
    (
        "gb2312_subject_body",
        "gb2312.body@customer.example",
        "关于镕的发票€",
        "您好，我想查询订单镕基的退款进度。谢谢！",
        None,
    ),
    (
        "gb2312_attachment_name",
        "gb2312.file@customer.example",
        "关于镕的发票€",
        "您好，我想查询订单镕基的退款进度。谢谢！",
        "发票镕.pdf",
    ),
    (
        "gb2312_upper_subject_body",
        "gb2312_upper.body@customer.example",
        "申请退款：镕业",
        "请尽快处理镕业公司的账单，金额为€100。",
        None,
    ),
    (
        "gb2312_upper_attachment_name",
        "gb2312_upper.file@customer.example",
        "申请退款：镕业",
        "请尽快处理镕业公司的账单，金额为€100。",
        "账单镕.pdf",
    ),
    (
        "gbk_subject_body",
        "gbk.body@customer.example",
        "咨询：鍩碁",
        "我们的鍩碁订单还没有收到。",
        None,
    ),
    (
        "gbk_attachment_name",
        "gbk.file@customer.example",
        "咨询：鍩碁",
        "我们的鍩碁订单还没有收到。",
        "订单鍩.pdf",
    ),
    (
        "x_gbk_subject_body",
        "x_gbk.body@customer.example",
        "咨询：玥玥",
        "玥玥的账户无法登录。",
        None,
    ),
    (
        "x_gbk_attachment_name",
        "x_gbk.file@customer.example",
        "咨询：玥玥",
        "玥玥的账户无法登录。",
        "玥玥.pdf",
    ),
    (
        "ks_c_5601_subject_body",
        "ks_c_5601.body@customer.example",
        "똠방각하 주문 문의",
        "안녕하세요, 똠방각하 주문 관련 문의드립니다.",
        None,
    ),
    (
        "ks_c_5601_attachment_name",
        "ks_c_5601.file@customer.example",
        "똠방각하 주문 문의",
        "안녕하세요, 똠방각하 주문 관련 문의드립니다.",
        "똠방주문서.pdf",
    ),
    (
        "euc_kr_subject_body",
        "euc_kr.body@customer.example",
        "쓔 주문 취소",
        "쓔 고객님의 주문을 취소해 주세요.",
        None,
    ),
    (
        "euc_kr_attachment_name",
        "euc_kr.file@customer.example",
        "쓔 주문 취소",
        "쓔 고객님의 주문을 취소해 주세요.",
        "쓔취소.pdf",
    ),
    (
        "shift_jis_subject_body",
        "shift_jis.body@customer.example",
        "①番の注文について㈱テスト",
        "①番と②番の注文、髙橋様の件です。",
        None,
    ),
    (
        "shift_jis_attachment_name",
        "shift_jis.file@customer.example",
        "①番の注文について㈱テスト",
        "①番と②番の注文、髙橋様の件です。",
        "①注文書.pdf",
    ),
    (
        "sjis_upper_subject_body",
        "sjis_upper.body@customer.example",
        "髙橋です～",
        "髙橋と申します。請求書が届いていません～",
        None,
    ),
    (
        "sjis_upper_attachment_name",
        "sjis_upper.file@customer.example",
        "髙橋です～",
        "髙橋と申します。請求書が届いていません～",
        "髙橋請求書.pdf",
    ),
    (
        "iso2022jp_subject_body",
        "iso2022jp.body@customer.example",
        "①の件 ご確認",
        "①番の注文について、ご確認をお願いいたします。㈱テスト",
        None,
    ),
    (
        "iso2022jp_attachment_name",
        "iso2022jp.file@customer.example",
        "①の件 ご確認",
        "①番の注文について、ご確認をお願いいたします。㈱テスト",
        "①見積書.pdf",
    ),
    (
        "iso2022jp_upper_subject_body",
        "iso2022jp_upper.body@customer.example",
        "㈱サンプル 請求書",
        "㈱サンプルの請求書を送付します。Ⅲ期分です。",
        None,
    ),
    (
        "iso2022jp_upper_attachment_name",
        "iso2022jp_upper.file@customer.example",
        "㈱サンプル 請求書",
        "㈱サンプルの請求書を送付します。Ⅲ期分です。",
        "㈱請求書.pdf",
    ),
    (
        "utf8_subject_body",
        "utf8.body@customer.example",
        "Olá, não recebi",
        "Olá, não recebi a fatura de março.",
        None,
    ),
    (
        "utf8_attachment_name",
        "utf8.file@customer.example",
        "Olá, não recebi",
        "Olá, não recebi a fatura de março.",
        "fatura março.pdf",
    ),
    (
        "unicode11utf8_subject_body",
        "unicode11utf8.body@customer.example",
        "Ação necessária",
        "Preciso de ajuda com a ação de cobrança.",
        None,
    ),
    (
        "unicode11utf8_attachment_name",
        "unicode11utf8.file@customer.example",
        "Ação necessária",
        "Preciso de ajuda com a ação de cobrança.",
        "cobrança ação.pdf",
    ),
    (
        "big5_subject_body",
        "big5.body@customer.example",
        "帳號無法登入",
        "您好，我的帳號無法登入，請協助處理。",
        None,
    ),
    (
        "big5_attachment_name",
        "big5.file@customer.example",
        "帳號無法登入",
        "您好，我的帳號無法登入，請協助處理。",
        "帳號.pdf",
    ),
    (
        "latin1_c1_subject_body",
        "latin1_c1.body@customer.example",
        "Fatura – “março” €",
        "Não recebi a “fatura” de €100 — obrigado.",
        None,
    ),
    (
        "latin1_c1_attachment_name",
        "latin1_c1.file@customer.example",
        "Fatura – “março” €",
        "Não recebi a “fatura” de €100 — obrigado.",
        "fatura–março.pdf",
    ),
    (
        "ascii_c1_subject_body",
        "ascii_c1.body@customer.example",
        "Pedido “urgente” €",
        "O pedido “urgente” custa €50 – obrigado.",
        None,
    ),
    (
        "ascii_c1_attachment_name",
        "ascii_c1.file@customer.example",
        "Pedido “urgente” €",
        "O pedido “urgente” custa €50 – obrigado.",
        "pedido–urgente.pdf",
    ),
    (
        "windows1252_subject_body",
        "windows1252.body@customer.example",
        "Orçamento – revisão",
        "Segue o orçamento – revisão “final”.",
        None,
    ),
    (
        "windows1252_attachment_name",
        "windows1252.file@customer.example",
        "Orçamento – revisão",
        "Segue o orçamento – revisão “final”.",
        "orçamento–final.pdf",
    ),
    (
        "latin9_lie_subject_body",
        "latin9_lie.body@customer.example",
        "Sipariş durumu",
        "Siparişim hâlâ gelmedi, yardım eder misiniz?",
        None,
    ),
    (
        "latin9_lie_attachment_name",
        "latin9_lie.file@customer.example",
        "Sipariş durumu",
        "Siparişim hâlâ gelmedi, yardım eder misiniz?",
        "sipariş.pdf",
    ),
    (
        "koi8r_subject_body",
        "koi8r.body@customer.example",
        "Счёт не получен",
        "Здравствуйте, я не получил счёт за прошлый месяц.",
        None,
    ),
    (
        "koi8r_attachment_name",
        "koi8r.file@customer.example",
        "Счёт не получен",
        "Здравствуйте, я не получил счёт за прошлый месяц.",
        "счёт.pdf",
    ),
    ("ew_latin1_holding_utf8", "lie1@customer.example", "Solicitação de reembolso", "Olá", None),
    ("ew_ascii_holding_cp1252", "lie2@customer.example", "Pedido “urgente” não", "Bom dia", None),
    (
        "ew_utf8_holding_cp1252",
        "lie3@customer.example",
        "Cotação pendente",
        "Segue a cotação.",
        None,
    ),
    ("ew_gb2312_mixed_words", "lie4@customer.example", "Re: 镕业发票", "见附件", None),
    ("ew_unknown_label_utf8", "lie5@customer.example", "Orçamento aprovado", "ok", None),
    ("ew_iso2022jp_in_from_name", "lie6@customer.example", "請求書①", "よろしくお願いします", None),
    (
        "undeclared_utf8_body",
        "u1@customer.example",
        "Não consigo entrar",
        "não consigo entrar na conta",
        None,
    ),
    (
        "undeclared_cp1252_body",
        "u2@customer.example",
        "Cobrança indevida",
        "verifiquem a cobrança “extra”",
        None,
    ),
    ("undeclared_gb18030_body", "u3@customer.example", "退款申请", "我想申请退款", None),
    ("undeclared_koi8r_body", "u4@customer.example", "Schet", "не получил счёт", None),
    ("undeclared_iso2022jp_body", "u5@customer.example", "注文の件", "①番の注文について", None),
    ("raw8bit_utf8_subject", "u6@customer.example", "Reclamação — urgente", "see subject", None),
    (
        "raw8bit_latin1_subject_hinted",
        "u7@customer.example",
        "Cotação número 7",
        "Segue a cotação.",
        None,
    ),
    ("raw8bit_gb_subject_hinted", "u8@customer.example", "关于镕的发票", "请查收。", None),
    ("raw8bit_sjis_subject_hinted", "u9@customer.example", "髙橋①の件", "ご確認ください。", None),
    (
        "raw8bit_utf8_filename",
        "u10@customer.example",
        "Contrato",
        "Segue o contrato.",
        "contrato – revisão.pdf",
    ),
    ("raw8bit_gb_filename_hinted", "u11@customer.example", "Invoice", "见附件", "发票镕.pdf"),
    ("html_only_gb2312", "u12@customer.example", "网页邮件", "镕业的订单", None),
]


def _raw(name: str) -> bytes:
    return (CHARSETS / f"{name}.eml").read_bytes()


def test_every_fixture_has_a_case() -> None:
    assert {p.stem for p in Path(CHARSETS).glob("*.eml")} == {case[0] for case in CASES}


@pytest.mark.parametrize(("name", "sender", "subject", "snippet", "filename"), CASES)
def test_it_decodes_the_charset_the_mail_really_uses(
    name: str, sender: str, subject: str, snippet: str, filename: str | None
) -> None:
    mail = parse_email(_raw(name))
    assert mail.sender == sender
    assert mail.subject == subject
    assert snippet in (mail.text or html_to_text(mail.html))
    if filename is not None:
        assert [a.filename for a in mail.attachments] == [filename]
        assert mail.attachments[0].payload == b"%PDF-1.4 fixture"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GB_2312-80", "gb18030"),
        ("ks_c_5601-1987", "cp949"),
        ("shift_jis", "cp932"),
        ('"iso-8859-1"', "cp1252"),
        ("us-ascii", "cp1252"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("utf8", "utf-8"),
        ("x-unknown", ""),
        ("", ""),
        ("koi8-r", "koi8-r"),
    ],
)
def test_it_reads_charset_labels_as_whatwg_does(label: str, codec: str) -> None:
    assert charset_codec(label) == codec


def test_it_reads_the_nec_and_ibm_extensions_of_iso_2022_jp() -> None:
    # Row 13 (NEC: ①, ㈱) and row 89 (IBM, 纊), which Python's codecs refuse.
    assert decode_iso2022jp(b"\x1b$B-!-j\x1b(B and \x1b$By!\x1b(B") == "①㈱ and 纊"
    assert decode_iso2022jp(b"\x1b(I1\x1b(B") == "ｱ"
    assert decode_bytes(b"\x1b$B-!\x1b(B", "ISO-2022-JP") == "①"


def test_it_never_fails_on_bytes_that_are_no_charset_at_all() -> None:
    assert decode_bytes(b"\x1b$B\xff\xfe", "iso-2022-jp")  # not ISO-2022-JP after all
    assert decode_bytes(b"\x81\x8d\x8f", "iso-8859-1") == "\ufffd\ufffd\ufffd"
    assert decode_bytes(b"caf\xe9", "no-such-charset") == "café"


def test_valid_utf8_declared_latin1_is_read_as_utf8() -> None:
    assert decode_bytes("ação".encode(), "iso-8859-1") == "ação"
    assert decode_bytes("ação".encode("cp1252"), "iso-8859-1") == "ação"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["gb2312_subject_body", "iso2022jp_subject_body", "ks_c_5601_attachment_name"]
)
def test_the_ticket_gets_the_decoded_subject_and_body(name: str) -> None:
    case = next(c for c in CASES if c[0] == name)
    result = ingest_raw_email(_raw(name), door="pipe")
    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.reference)
    assert ticket.subject == case[2]
    assert ticket.created_by.email == case[1]
    assert case[3] in ticket.messages.get().body
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.subject == case[2]
    if case[4]:
        assert [a.original_name for a in ticket.attachments.all()] == [case[4]]

"""B5: the sanitiser against an XSS corpus; html_to_text; quote folding units."""

from __future__ import annotations

import html
import re

import pytest

from mailgateway.quotes import split_quoted
from mailgateway.sanitize import SanitizeError, html_to_text, sanitize_html

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x OnErRoR=alert(1)>",
    '<img src="x" onerror="alert(1)"/>',
    "<img src=javascript:alert(1)>",
    "<img src=`javascript:alert(1)`>",
    "<img dynsrc=javascript:alert(1)>",
    "<img lowsrc=javascript:alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#0000106&#0000097vascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="javascript:javascript:alert(1)">x</a>',
    '<a href="javascript:1">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<style>@import 'http://evil.example/x.css';</style>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="width: expression(alert(1))">x</div>',
    '<p style="behavior:url(x.htc)">x</p>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="http://evil.example/x.css">',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<frameset><frame src="javascript:alert(1)"></frameset>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    "<input onfocus=alert(1) autofocus>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<td background="javascript:alert(1)">x</td>',
    '<div onmouseover="alert(1)">x</div>',
    '<a href="#" onclick="alert(1)">x</a>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<img src="x" alt="`onerror=alert(1)`">',
    '"><script>alert(1)</script>',
    "</title><script>alert(1)</script>",
    "<title><script>alert(1)</script></title>",
    "<textarea><script>alert(1)</script></textarea>",
    "<xmp><script>alert(1)</script></xmp>",
    "<template><script>alert(1)</script></template>",
    '<a href="http://ok.example" target="_blank" onclick="alert(1)">x</a>',
    '<img src="http://tracker.example/p.gif">',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="javas\x00cript:alert(1)">x</a>',
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    '<a href="&#14;javascript:alert(1)">x</a>',
]

_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
_BAD_URL = re.compile(r"(javascript|vbscript|data)\s*:", re.I)


def test_the_corpus_is_big_enough() -> None:
    assert len(XSS) >= 50


@pytest.mark.parametrize("payload", XSS)
def test_it_leaves_nothing_executable(payload: str) -> None:
    out = sanitize_html(f"<p>antes</p>{payload}<p>depois</p>")
    lowered = out.lower()
    assert "<script" not in lowered
    assert "<svg" not in lowered and "<math" not in lowered and "<iframe" not in lowered
    assert "<style" not in lowered and "<form" not in lowered and "<base" not in lowered
    assert "<meta" not in lowered and "<link" not in lowered and "<object" not in lowered
    assert not _HANDLER.search(out)
    assert " style=" not in lowered
    # No dangerous scheme in any attribute, even once entities are decoded.
    for value in re.findall(r'=\s*"([^"]*)"', out):
        assert not _BAD_URL.search(re.sub(r"[\x00-\x20]", "", html.unescape(value)))
    assert " src=" not in lowered  # images never load by themselves
    assert out.startswith("<p>antes</p>")


def test_it_removes_script_style_and_title_with_their_text() -> None:
    out = sanitize_html(
        "<html><head><title>Título</title><style>p{color:red}</style></head>"
        "<body><p>Olá</p><script>var x = 1;</script></body></html>"
    )
    assert out == "<p>Olá</p>"


def test_it_keeps_ordinary_formatting_and_safe_links() -> None:
    out = sanitize_html(
        '<p><b>Negrito</b> <a href="https://exemplo.com.br/a?x=1&amp;y=2">link</a></p>'
        "<table><tr><td colspan=2>célula</td></tr></table><blockquote>citação</blockquote>"
    )
    assert "<b>Negrito</b>" in out
    assert 'href="https://exemplo.com.br/a?x=1&amp;y=2"' in out
    assert 'rel="noopener noreferrer nofollow"' in out
    assert '<td colspan="2">célula</td>' in out and "<blockquote>citação</blockquote>" in out


def test_remote_and_inline_images_are_not_loaded() -> None:
    out = sanitize_html('<img src="https://t.example/p.gif" alt="x"><img src="cid:logo@x">')
    assert out == '<img alt="x" data-src="https://t.example/p.gif"><img data-cid="logo@x">'


def test_it_fails_closed() -> None:
    with pytest.raises(SanitizeError):
        sanitize_html("<p>" * 10 + "x" * 3_000_000)


def test_html_to_text_gives_readable_text() -> None:
    text = html_to_text(
        "<html><head><style>p{}</style><title>T</title></head><body>"
        "<p>Olá&nbsp;mundo</p><div>linha 2<br>linha 3</div><script>x()</script></body></html>"
    )
    assert text == "Olá mundo\n\nlinha 2\nlinha 3"


@pytest.mark.parametrize(
    ("text", "new", "quoted_start"),
    [
        ("Resposta\n\nOn Mon, 3 Nov 2026 at 10:00, A <a@x> wrote:\n> x", "Resposta", "On Mon"),
        ("Resposta\n\nOn Mon, 3 Nov 2026 at 10:00, A <a@x>\nwrote:\n> x", "Resposta", "On Mon"),
        ("Resposta\nEm seg., 3 de nov. de 2026 às 10:00, A <a@x> escreveu:\n> x", "Resposta",
         "Em seg."),
        ("Resposta\n-----Original Message-----\nFrom: x", "Resposta", "-----Original"),
        ("Resposta\n-----Mensagem original-----\nDe: x", "Resposta", "-----Mensagem"),
        ("Resposta\n\nDe: Suporte <s@x>\nEnviada em: segunda\nPara: x", "Resposta", "De: Suporte"),
        ("Resposta\n\nFrom: Support <s@x>\nDate: Monday\nTo: x", "Resposta", "From: Support"),
        ("Resposta\n\nEnviado do meu iPhone\n\n> x", "Resposta", "Enviado do meu iPhone"),
        ("Resposta\n-- \nAssinatura", "Resposta", "-- \nAssinatura"),
        ("Resposta\n> a\n> b", "Resposta", "> a"),
    ],
)  # fmt: skip
def test_it_folds_quotes_and_signatures(text: str, new: str, quoted_start: str) -> None:
    got_new, got_quoted = split_quoted(text)
    assert got_new == new
    assert got_quoted.startswith(quoted_start)


def test_it_keeps_interleaved_answers_whole() -> None:
    text = "> pergunta 1\nresposta 1\n> pergunta 2\nresposta 2"
    assert split_quoted(text) == (text, "")


def test_a_mail_that_is_all_quote_is_kept_visible() -> None:
    assert split_quoted("> só citação") == ("> só citação", "")


def test_from_and_date_in_a_sentence_is_not_a_quote_header() -> None:
    text = "From: what I see, the printer is fine.\nBut it does not print."
    assert split_quoted(text) == (text, "")

"""Hostile HTML for mail bodies (RELIABILITY-SECURITY.md B5/B6). Every payload
either calls alert()/confirm()/prompt() when it runs, or makes the browser
fetch from FOREIGN (a loopback address that is not our host, so a leak never
leaves the machine). A page that renders them all must show no dialog, report
no CSP violation and request nothing from FOREIGN."""

FOREIGN = "http://127.0.0.9:9"

PAYLOADS: list[str] = [
    # <script> in its many spellings
    "<script>alert('s1')</script>",
    "<SCRIPT SRC=" + FOREIGN + "/x.js></SCRIPT>",
    "<script>/*</script><script>*/alert('s3')</script>",
    "<<script>script>alert('s4')<</script>/script>",
    "<scr<script>ipt>alert('s5')</scr</script>ipt>",
    # event handlers
    "<img src=x onerror=alert('e1')>",
    '<img src="x" onerror="javascript:alert(\'e2\')">',
    "<body onload=alert('e3')>",
    "<div onmouseover=\"alert('e4')\">hover</div>",
    "<input autofocus onfocus=alert('e5')>",
    "<details open ontoggle=alert('e6')>",
    "<video><source onerror=\"alert('e7')\"></video>",
    "<marquee onstart=alert('e8')>m</marquee>",
    '<a href="#" onclick="alert(\'e9\')">click</a>',
    # javascript:, vbscript: and data: links, plain, encoded and split
    "<a href=\"javascript:alert('j1')\">j1</a>",
    "<a href=\"JaVaScRiPt:alert('j2')\">j2</a>",
    "<a href=\" javascript:alert('j3')\">j3</a>",
    "<a href=\"java\nscript:alert('j4')\">j4</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert('j5')\">j5</a>",
    "<a href=\"javascript:javascript:alert('j6')\">j6</a>",
    "<a href=\"vbscript:msgbox('j7')\">j7</a>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgnajgnKTwvc2NyaXB0Pg==">j8</a>',
    "<form action=\"javascript:alert('j9')\"><button>go</button></form>",
    # svg / math (mutation XSS)
    "<svg onload=alert('v1')>",
    "<svg><script>alert('v2')</script></svg>",
    "<svg><a xlink:href=\"javascript:alert('v3')\"><text>v3</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('v4')>",
    "<svg><animate onbegin=alert('v5') attributeName=x dur=1s>",
    # frames and objects
    "<iframe srcdoc=\"<script>alert('f1')</script>\"></iframe>",
    "<iframe src=\"javascript:alert('f2')\"></iframe>",
    '<iframe src="' + FOREIGN + '/frame"></iframe>',
    "<object data=\"javascript:alert('f4')\"></object>",
    '<embed src="' + FOREIGN + '/embed.swf">',
    # meta refresh, base, link, style
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'m1\')">',
    '<meta http-equiv="refresh" content="0;url=' + FOREIGN + '/refresh">',
    '<base href="' + FOREIGN + '/">',
    '<link rel="stylesheet" href="' + FOREIGN + '/x.css">',
    "<style>@import '" + FOREIGN + "/import.css';</style>",
    "<style>body{background:url('" + FOREIGN + "/bg.png')}</style>",
    '<div style="background-image:url(' + FOREIGN + '/div.png)">styled</div>',
    "<div style=\"width:expression(alert('c5'))\">expr</div>",
    '<p style="behavior:url(' + FOREIGN + '/x.htc)">htc</p>',
    # remote content (B6): tracking pixels and sources
    '<img src="' + FOREIGN + '/pixel.gif" width=1 height=1>',
    '<img srcset="' + FOREIGN + '/set.png 1x">',
    '<picture><source srcset="' + FOREIGN + '/pic.png"><img src=x></picture>',
    '<table background="' + FOREIGN + '/tbl.png"><tr><td>t</td></tr></table>',
    # templates, comments, entities, noscript tricks
    "<noscript><p title=\"</noscript><img src=x onerror=alert('n1')>\"></noscript>",
    "<!--<img src=\"--><img src=x onerror=alert('n2')//\">",
    "<textarea><script>alert('n3')</script></textarea>",
    "<template><script>alert('n4')</script></template>",
    "<xmp><img src=x onerror=alert('n5')></xmp>",
    "&lt;script&gt;alert('n6')&lt;/script&gt;",
]

# Context breakers: each core payload after the characters that end the
# context a careless template would put it in (an attribute, a title, a
# textarea, a comment, a script string, a JSON blob, a CDATA section), so the
# same vector is tried where escaping is most often forgotten.
BREAKERS = ['"', "'", '">', "'>", "</title>", "</textarea>", "-->", "</script>", "]]>", "`"]
CORES = [
    "<img src=x onerror=alert('b{n}')>",
    "<svg/onload=alert('b{n}')>",
    "<script>alert('b{n}')</script>",
    "<iframe src=javascript:alert('b{n}')>",
    "<a href=javascript:alert('b{n}')>b{n}</a>",
    "<img src='" + FOREIGN + "/b{n}.png'>",
    "<body onpageshow=alert('b{n}')>",
    "<input onfocus=alert('b{n}') autofocus>",
    "{{{{7*7}}}}<img src=x onerror=alert('b{n}')>",
    "\u003cimg src=x onerror=alert('b{n}')\u003e",
]
PAYLOADS += [
    breaker + core.format(n=i * len(CORES) + j)
    for i, breaker in enumerate(BREAKERS)
    for j, core in enumerate(CORES)
]

SUBJECT = "Fatura <script>alert('subj')</script> <img src=x onerror=alert('subj2')>"
# Short ones for places with length limits (a name, a file name, a subject).
SHORT = [
    "<img src=x onerror=alert('n1')>",
    "\"><svg onload=alert('n2')>",
    "'><script>alert('n3')</script>",
    "</title><img src=" + FOREIGN + "/n4.png>",
    "javascript:alert('n5')",
]


def html_body() -> str:
    items = "\n".join(f"<div class='case'>{p}</div>" for p in PAYLOADS)
    return (
        "<html><head><title>x</title></head>"
        f"<body><p>Olá, segue o problema:</p>{items}</body></html>"
    )


def raw_email(to: str = "support@example.com") -> bytes:
    """A multipart mail carrying the corpus as its HTML part."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Mallory <img src=x onerror=alert('from')> <mallory@cliente.com.br>"
    msg["To"] = to
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<xss-corpus-1@cliente.com.br>"
    msg.set_content("Olá, segue o problema (versão texto).")
    msg.add_alternative(html_body(), subtype="html")
    return msg.as_bytes()

"""Header values built from user input, made safe to put in a mail.

A display name or subject can come from a customer's mail or a web form.
CPython re-folds a parsed header that contained an encoded newline into a new
header (CVE-2024-6923, gh-121650), and U+2028/U+0085 count as line breaks for
str.splitlines(), so every line-breaking or control character becomes a space
before anything reaches a header.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr

from django.conf import settings

# C0/C1 controls (CR, LF, NUL, NEL U+0085 ...), the Unicode line and paragraph
# separators, and the bidi overrides that can disguise a name.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean_header_text(value: str, max_length: int = 200) -> str:
    """One line of text: controls and line separators become single spaces,
    and a literal RFC 2047 encoded-word opener "=?" is broken up, so text
    like "=?utf-8?q?Hi=0D=0ABcc:...?=" cannot decode into a line break in a
    client or in a parser that re-serialises the header."""
    text = " ".join(_UNSAFE.sub(" ", value).split()).replace("=?", "= ?")
    return text[:max_length]


def format_address(name: str, email: str) -> str:
    """'"Name" <email>' with the name cleaned and quoted as RFC 5322 needs."""
    display = clean_header_text(name, 120)
    if display.lower() == email.strip().lower():
        display = ""  # a person known only by address: no '"a@b" <a@b>'
    local, _, domain = email.strip().rpartition("@")
    if not local or not domain or _UNSAFE.search(email):
        raise ValueError(f"Not a mail address: {email!r}")
    return str(Address(display_name=display, username=local, domain=domain))


def support_address() -> str:
    """The bare address all mail is sent from (DEFAULT_FROM_EMAIL's address part)."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address or settings.HELPDESK_SUPPORT_ADDRESS


def mail_domain() -> str:
    return settings.HELPDESK_SUPPORT_ADDRESS.rpartition("@")[2] or "localhost"


def new_message_id() -> str:
    """A fresh Message-ID in our own domain (with angle brackets)."""
    return make_msgid(domain=mail_domain())


def bare_id(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def format_references(ids: list[str]) -> str:
    return " ".join(f"<{bare_id(i)}>" for i in ids if bare_id(i))

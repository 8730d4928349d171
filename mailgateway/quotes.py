"""Fold quoted history and signatures away from a reply: (new_text, quoted_text).

Top-posted replies are cut at the first line that starts the quoted history
(the "On ... wrote:" attribution of Gmail, Apple Mail and Thunderbird in
English and Portuguese, Outlook's header block or "Original Message"
separator, a ">" block) or the signature delimiter "-- " (RFC 3676 §4.3).
Interleaved replies (answers between ">" lines) are left whole: folding them
would hide the answers. Nothing is dropped: both halves are stored.
"""

from __future__ import annotations

import re

# "On Mon, 3 Nov 2026 at 10:00, Carla <c@x> wrote:" (may wrap over two or three
# lines), "Em seg., 3 de nov. de 2026 às 10:00, Carla <c@x> escreveu:",
# "Le ... a écrit :", "El ... escribió:", "Am ... schrieb:".
_ATTRIBUTION = re.compile(
    r"^\s*(on|em|el|le|am|op)\b.{0,400}?\b(wrote|escreveu|escribió|a\s+écrit|schrieb|schreef)"
    r"\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|mensagem original|mensaje original|message d'origine|"
    r"ursprüngliche nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook (desktop and web), pt-BR and English: "From:/De:" then within a few
# lines "Sent:/Enviado:/Enviada em:/Date:/Data:" (and usually "To:/Para:").
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(sent|enviado|enviada em|enviado em|date|data)\s*:\*?\s+\S", re.IGNORECASE
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE = re.compile(
    r"^\s*(sent from my|enviado do meu|enviado de meu|enviado via|sent via|"
    r"get outlook for|obter o outlook para|enviado do (outlook|yahoo mail))\b",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> tuple[int, str] | None:
    """Index of the first line of the quoted history and the kind of marker."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _SIGNATURE.match(line.rstrip("\n")) or _MOBILE.match(line):
            return i, "signature"
        if _SEPARATOR.match(line):
            return i, "separator"
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_SENT.match(following) for following in lines[i + 1 : i + 5]
        ):
            start = i - 1 if i and _UNDERSCORES.match(lines[i - 1]) else i
            return start, "outlook"
        # Attribution lines wrap: try this line alone and joined with the next ones.
        if stripped[:3].lower() in {"on ", "em ", "el ", "le ", "am ", "op "} or (
            stripped[:2].lower() in {"on", "em", "el", "le", "am", "op"}
        ):
            for width in (1, 2, 3):
                candidate = " ".join(lines[i : i + width])
                if _ATTRIBUTION.match(candidate):
                    return i, "attribution"
        if stripped.startswith(">"):
            return i, "quote"
    return None


def split_quoted(text: str) -> tuple[str, str]:
    """(new_text, quoted_text) of a reply's plain text."""
    if not text:
        return "", ""
    lines = text.split("\n")
    found = _quote_start(lines)
    if found is None:
        return text.strip(), ""
    start, kind = found
    if kind == "quote":
        rest = lines[start:]
        # An answer between quoted lines means an interleaved reply: keep it whole.
        after_quote = False
        for line in rest:
            if line.lstrip().startswith(">"):
                after_quote = True
            elif line.strip() and after_quote:
                if _SIGNATURE.match(line.rstrip()) or _MOBILE.match(line):
                    break
                return text.strip(), ""
    new = "\n".join(lines[:start]).strip()
    quoted = "\n".join(lines[start:]).strip()
    if not new:
        # Nothing but quotes (or a mail that starts with a signature): show it all.
        return text.strip(), ""
    return new, quoted

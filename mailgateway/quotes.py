"""Fold quoted history and signatures away from a reply: (new_text, quoted_text).

A reply is cut at the first line that starts the quoted history: an
attribution ("On ... wrote:", "Am ... schrieb ...:", "Op ... schreef ...:",
"W dniu ... napisał:", "2022年1月1日(金) 9:00 田中太郎 <t@x>:" and more, in
about twenty languages), an Outlook header block ("From:/Sent:", "Von:/
Gesendet:", "De :/Envoyé :", ... with the value on the same or the next
line, as HTML-only replies give it after HTML→text), a separator
("-----Original Message-----", "-----Oprindelig meddelelse-----",
"---- John Smith wrote ----"), a ">" block, or a signature ("-- " per RFC
3676 §4.3, or a short "Sent from my iPhone" at the end).

A ">" block followed by new text is a bottom post: the text after it is kept
(with the text above it). Answers between several ">" blocks mean an
interleaved reply, left whole: folding it would hide the answers. A
forwarded mail ("---------- Forwarded message ---------", "Begin forwarded
message:", or an Outlook block under a "Fwd:/Enc:/WG:" subject) is the
request itself, kept whole with its original sender. Nothing is dropped:
both halves are stored, and split_reply() says which rule cut.
"""

# The patterns below are words in other scripts (Cyrillic, Turkish, CJK), on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Verbs of "X wrote:" attributions. Gmail puts the name before the verb in
# most languages and after it in some (German "... Uhr schrieb John Doe
# <j@x>:"), so the verb may sit anywhere in the line; the line must end with
# a colon (or "wrote" itself) and carry a date or an address (below).
_VERBS = (
    r"wrote|writes|escreveu|escribió|escribio|a\s+écrit|schrieb|schreef|skrev|"
    r"napisał\(a\)|napisała|napisał|napisal|написал\(а\)|написала|написал|написав|"
    r"đã\s+viết|ha\s+scritto|napsal\(a\)|napsala|napsal|yazdı|kirjoitti|έγραψε|"
    r"írta|a\s+scris|scrie|piše|je\s+napisal|rašė|rakstīja|kirjutas|va\s+escriure|"
    r"idatzi\s+zuen|pisze|napisao|napisala|skriver|"
    r"heeft\s+geschreven|hat\s+geschrieben|har\s+skrivit|har\s+skrevet"
)
# Chinese, Japanese and Korean words have no word boundaries around them.
_CJK_VERBS = r"写道|寫道|님이\s*작성|작성|さんは書きました|のメッセージ"
_ATTRIBUTION_VERB = re.compile(rf"(?<!\w)({_VERBS})(?!\w)|{_CJK_VERBS}", re.IGNORECASE)
# A date or time, or an address: what separates an attribution from a
# sentence such as "My colleague wrote:".
_DATEISH = re.compile(
    r"\d{1,2}:\d{2}|\b(19|20)\d{2}\b|\d{4}年|\d{4}년|@|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
)
# Attributions with no verb: Gmail in Japanese, Russian and others writes
# "<date> <name> <address>:" only.
_ADDRESS_COLON = re.compile(r"<[^<>\s]+@[^<>\s]+>\s*[:：]\s*$")
# The classic shape needs no date: "On Monday, Support wrote:", "Em 3/11 Ana escreveu:".
_CLASSIC_ATTRIBUTION = re.compile(
    r"^\s*(on|em|el|le|am|op)\b.{0,400}?\b(wrote|escreveu|escribió|a\s+écrit|schrieb|schreef)"
    r"\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ENDS_ATTRIBUTION = re.compile(r"[:：]\s*$|(wrote|escreveu)\s*$", re.IGNORECASE)

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*("
    r"original message|mensagem original|mensaje original|message d'origine|"
    r"ursprüngliche nachricht|originalnachricht|antwort nachricht|reply message|"
    r"oprindelig meddelelse|opprinnelig melding|ursprungligt meddelande|"
    r"oorspronkelijk bericht|origineel bericht|messaggio originale|wiadomość oryginalna|"
    r"oryginalna wiadomość|исходное сообщение|původní zpráva|původní e-mail|orijinal ileti|"
    r"özgün ileti|alkuperäinen viesti|eredeti üzenet|mesaj original|原始邮件|原始郵件|"
    r"元のメッセージ|원본 메시지|thư gốc|tin nhắn gốc|"
    r"[^-\n]{1,60}\s(wrote|escreveu|schrieb|a écrit)"
    r")\s*:?\s*-{0,}\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|mensagem encaminhada|mensaje reenviado|"
    r"message transféré|weitergeleitete nachricht|doorgestuurd bericht|"
    r"videresendt meddelelse|vidarebefordrat meddelande|messaggio inoltrato|"
    r"wiadomość przekazana|пересылаемое сообщение|přeposlaná zpráva|"
    r"iletilen ileti|转发的邮件|転送されたメッセージ)\s*-{0,}|"
    r"begin forwarded message:|início da mensagem encaminhada:|"
    r"inicio del mensaje reenviado:|début du message réexpédié :?|"
    r"anfang der weitergeleiteten nachricht:)\s*$",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(
    r"^\s*(re|res|aw|sv|vs|odp|ynt|antw|rif|r|回复|答复|回覆)\s*[:：]", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|enc|tr|wg|rv|i|vs|doorst|fw)\s*:", re.IGNORECASE)

# Outlook header blocks, in the languages Outlook speaks. The value may follow
# on the same line or, after HTML→text, on the next one.
_FROM_LABELS = (
    r"from|de|von|fra|från|от|da|van|od|kimden|lähettäjä|feladó|送信者|差出人|发件人|寄件者|보낸\s*사람|"
    r"người gửi|từ"
)
_SENT_LABELS = (
    r"sent|date|enviado|enviada|enviada em|enviado em|enviado el|data|fecha|gesendet|datum|"
    r"envoyé|envoyé le|date d'envoi|sendt|skickat|отправлено|дата|inviato|verzonden|"
    r"wysłano|wysłane|data wysłania|odesláno|gönderildi|tarih|lähetetty|elküldve|"
    r"送信日時|发送时间|寄件日期|日期|보낸\s*날짜|ngày gửi|đã gửi"
)
_TO_LABELS = (
    r"to|para|an|à|til|till|кому|komu|a|aan|do|kime|vastaanottaja|címzett|"
    r"宛先|收件人|받는\s*사람|cc"
)
_SUBJECT_LABELS = (
    r"subject|assunto|asunto|betreff|objet|emne|ämne|тема|oggetto|onderwerp|temat|předmět|"
    r"konu|aihe|tárgy|件名|主题|主旨|제목|chủ đề"
)
_OTHER_LABELS = f"{_TO_LABELS}|{_SUBJECT_LABELS}"
_HEADER_LINE = r"^\s*\*?({labels})\s*[:：]\*?(\s+\S|\s*$)"
_OUTLOOK_FROM = re.compile(_HEADER_LINE.format(labels=_FROM_LABELS), re.IGNORECASE)
_OUTLOOK_SENT = re.compile(_HEADER_LINE.format(labels=_SENT_LABELS), re.IGNORECASE)
_OUTLOOK_OTHER = re.compile(_HEADER_LINE.format(labels=_OTHER_LABELS), re.IGNORECASE)
_OUTLOOK_SUBJECT = re.compile(_HEADER_LINE.format(labels=_SUBJECT_LABELS), re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*(_{10,}|-{10,}|={10,})\s*$")
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE = re.compile(
    r"^\s*(sent from my|sent from (outlook|yahoo mail|mail)|enviado do meu|enviado de meu|"
    r"enviado desde mi|envoyé de mon|envoyé depuis|von meinem .{0,30} gesendet|"
    r"gesendet von|verzonden vanaf|verstuurd vanaf|sendt fra min|skickat från min|"
    r"inviato da|отправлено с|wysłane z|odesláno z|enviado via|sent via|"
    r"get outlook for|obter o outlook para|baixe o outlook|enviado do (outlook|yahoo mail)|"
    r"enviado pelo|enviado a partir do)",
    re.IGNORECASE,
)
# "Sent from my iPhone" counts as a signature only when it looks like one:
# a short line with at most this many short lines after it before the
# quoted history or the end.
_MOBILE_MAX_CHARS = 80
_MOBILE_TAIL_LINES = 2


@dataclass(frozen=True)
class Split:
    new: str
    quoted: str
    rule: str  # why it was cut there ("" when nothing was folded)


def _header_block(lines: list[str], i: int) -> bool:
    """lines[i] starts an Outlook-style header block: within the next lines
    a From label and a Sent/Date label (in any order), and a Subject label or
    an address after From. The last condition keeps a form a customer typed
    ("De: São Paulo / Para: Rio / Data: 10/01") in the new text."""
    window = [line for line in lines[i : i + 12] if line.strip()][:8]
    if not window:
        return False
    first = window[0]
    if not (_OUTLOOK_FROM.match(first) or _OUTLOOK_SENT.match(first)):
        return False
    froms = [k for k, line in enumerate(window) if _OUTLOOK_FROM.match(line)]
    if not froms or not any(_OUTLOOK_SENT.match(line) for line in window):
        return False
    labels = sum(
        1
        for line in window
        if _OUTLOOK_FROM.match(line) or _OUTLOOK_SENT.match(line) or _OUTLOOK_OTHER.match(line)
    )
    if not (labels >= 3 or len(window) <= 4):
        return False
    k = froms[0]
    value = window[k].split(":", 1)[-1].split("：", 1)[-1].strip(" *")
    if not value and k + 1 < len(window):
        value = window[k + 1]
    return "@" in value or any(_OUTLOOK_SUBJECT.match(line) for line in window)


def _is_attribution(lines: list[str], i: int) -> int:
    """How many lines (1 to 3) the attribution starting at lines[i] spans, 0 if none."""
    for width in (1, 2, 3):
        chunk = lines[i : i + width]
        if len(chunk) < width or (width > 1 and not chunk[-1].strip()):
            break
        candidate = " ".join(part.strip() for part in chunk)
        if len(candidate) > 400:
            break
        if not _ENDS_ATTRIBUTION.search(candidate):
            continue
        classic = _CLASSIC_ATTRIBUTION.match(candidate)
        if not classic and not _DATEISH.search(candidate):
            continue
        if classic or _ATTRIBUTION_VERB.search(candidate) or _ADDRESS_COLON.search(candidate):
            # "Thanks!" above a wrapped attribution is not part of it.
            if width > 1 and not _DATEISH.search(lines[i]) and _is_attribution(lines, i + 1):
                return 0
            return width
    return 0


def _mobile_signature(lines: list[str], i: int) -> bool:
    if len(lines[i].strip()) > _MOBILE_MAX_CHARS:
        return False
    tail = 0
    for j in range(i + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if _marker(lines, j, signatures=False):
            return True
        tail += 1
        if tail > _MOBILE_TAIL_LINES or len(line.strip()) > 40:
            return False
    return True


def _marker(lines: list[str], i: int, *, signatures: bool = True) -> str:
    """The kind of quoted-history marker lines[i] is, "" for none."""
    line = lines[i]
    stripped = line.strip()
    if not stripped:
        return ""
    if signatures and _SIGNATURE.match(line.rstrip("\n")):
        return "signature"
    if signatures and _MOBILE.match(line) and _mobile_signature(lines, i):
        return "signature"
    if _FORWARD.match(line):
        return "forward"
    if _SEPARATOR.match(line):
        return "separator"
    if _header_block(lines, i):
        return "outlook"
    if stripped.startswith(">"):
        return "quote"
    if _is_attribution(lines, i):
        return "attribution"
    return ""


def _quote_start(lines: list[str]) -> tuple[int, str] | None:
    """Index of the first line of the quoted history and the kind of marker."""
    for i in range(len(lines)):
        kind = _marker(lines, i)
        if kind:
            if kind == "outlook" and i and _UNDERSCORES.match(lines[i - 1]):
                return i - 1, kind
            return i, kind
    return None


def _after_quote(lines: list[str], start: int, kind: str) -> tuple[str, int] | None:
    """For a ">" block (with its attribution, if any) at start: ("whole", _)
    when answers sit between several blocks (an interleaved reply), ("tail", j)
    when new text starts at lines[j] after a single block (a bottom post),
    None when nothing but quotes follows."""
    i = start + (_is_attribution(lines, start) if kind == "attribution" else 0)
    # An attribution not followed by ">" lines (HTML made text) quotes the rest.
    first = next((line for line in lines[i:] if line.strip()), "")
    if not first.lstrip().startswith(">"):
        return None
    blocks, tail_at, in_text = 0, -1, False
    for j in range(i, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if line.lstrip().startswith(">"):
            if in_text:
                return "whole", -1
            blocks += 1 if tail_at < 0 else 0
            continue
        if _SIGNATURE.match(line.rstrip()) or _MOBILE.match(line):
            break
        if not in_text:
            in_text, tail_at = True, j
        if _is_attribution(lines, j) and tail_at == j:
            # A second attribution: the text before it was the answer.
            return "tail", j
    if tail_at < 0:
        return None
    return "tail", tail_at


def split_reply(text: str, subject: str = "") -> Split:
    """new text, quoted history and the rule that cut (see the module docstring)."""
    if not text:
        return Split("", "", "")
    lines = text.split("\n")
    found = _quote_start(lines)
    if found is None:
        return Split(text.strip(), "", "")
    start, kind = found
    if kind == "forward" or (kind == "outlook" and _FORWARD_SUBJECT.match(subject)):
        # The forwarded mail is the request: keep it, and its sender, visible.
        return Split(text.strip(), "", "forward kept")
    if kind in {"quote", "attribution"}:
        after = _after_quote(lines, start, kind)
        if after is not None and after[0] == "whole":
            return Split(text.strip(), "", "interleaved")
        if after is not None and kind == "quote" and not _REPLY_SUBJECT.match(subject):
            # "> " lines in a new mail (a pasted log, a prompt) with no
            # attribution and no "Re:": nothing says they are history.
            return Split(text.strip(), "", "")
        if after is not None:
            tail_at = after[1]
            tail = split_reply("\n".join(lines[tail_at:]))
            head = "\n".join(lines[:start]).strip()
            new = "\n\n".join(part for part in (head, tail.new) if part)
            quoted = "\n".join(lines[start:tail_at]).strip()
            if tail.quoted:
                quoted = f"{quoted}\n\n{tail.quoted}"
            return Split(new, quoted, "bottom post")
    new = "\n".join(lines[:start]).strip()
    quoted = "\n".join(lines[start:]).strip()
    if not new:
        # Nothing but quotes (or a mail that starts with a signature): show it all.
        return Split(text.strip(), "", "")
    return Split(new, quoted, kind)


def split_quoted(text: str, subject: str = "") -> tuple[str, str]:
    """(new_text, quoted_text) of a reply's plain text."""
    split = split_reply(text, subject)
    return split.new, split.quoted


# A line of ours must be this long to count: "Olá," or "Obrigado" are no proof.
_SENT_LINE_MIN = 20


def _plain(line: str) -> str:
    return " ".join(line.lstrip(" >").split()).lower()


def cut_at_sent(text: str, sent: Iterable[str]) -> Split | None:
    """Where text starts repeating one of the bodies we sent: that is quoted
    history by definition, whatever its attribution looks like (a webmail
    with no "wrote:" line, a client that drops the ">"). None when no line
    we sent appears below some new text."""
    firsts = set()
    for body in sent:
        for line in body.split("\n"):
            plain = _plain(line)
            if len(plain) >= _SENT_LINE_MIN:
                firsts.add(plain)
                break
    if not firsts:
        return None
    lines = text.split("\n")
    for j, line in enumerate(lines):
        if j == 0 or _plain(line) not in firsts:
            continue
        start = j
        above = next((k for k in range(j - 1, -1, -1) if lines[k].strip()), None)
        if above is not None and lines[above].rstrip().endswith((":", "：")):
            # An attribution we did not recognise still belongs to the history.
            start = above
        new = "\n".join(lines[:start]).strip()
        if new:
            return Split(new, "\n".join(lines[start:]).strip(), "matches what we sent")
    return None


_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def forwarded_sender(text: str) -> tuple[str, str] | None:
    """(name, address) of the sender of the mail forwarded in text: the first
    From label with an address after the forward marker or header block."""
    lines = text.split("\n")
    found = _quote_start(lines)
    if found is None or found[1] not in {"forward", "outlook"}:
        return None
    for i in range(found[0], min(len(lines), found[0] + 12)):
        if not _OUTLOOK_FROM.match(lines[i]):
            continue
        value = re.split(r"[:：]", lines[i], maxsplit=1)[-1].strip(" *\t")
        if not value and i + 1 < len(lines):
            value = lines[i + 1].strip()
        match = _ADDRESS.search(value)
        if match is None:
            return None
        name = value[: match.start()].strip(" <[\"'\t").removesuffix("mailto:").strip(" <[\"'")
        return name[:150], match.group(0).lower()
    return None

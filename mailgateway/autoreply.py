"""What kind of mail this is before we thread it: a person, a machine's
auto-reply, a bounce, or our own mail coming back (a loop).

RFC 3834: never answer mail whose Auto-Submitted is anything but "no", mail
with a null return path, list/bulk mail, or mail from ourselves. Note that
X-Auto-Response-Suppress means "do not auto-reply to me", not "I am an
auto-reply" (Sisimai #491): it is honoured by outbound, not classified on here.
"""

# The patterns below are words in other scripts (Cyrillic, Turkish, CJK), on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from mailgateway.addresses import is_our_address, our_domains
from mailgateway.parse import InboundEmail

# More than this many mails from one address in the window = a mail loop.
RATE_LIMIT = 20
RATE_WINDOW = timedelta(minutes=10)

# "Automatic reply: <subject>" and the like: a prefix only responders write.
_OOO_SUBJECT = re.compile(
    r"^\s*\[?(auto|automatic reply|auto-?reply|autoreply|automatic response|"
    r"resposta autom[aá]tica|respuesta autom[aá]tica|r[eé]ponse automatique|"
    r"risposta automatica|automatische antwort|automatisch antwoord|automatisk svar|"
    r"autosvar|odpowiedź automatyczna|автоматический ответ|automatická odpověď|"
    r"otomatik yanıt|out of (the )?office|abwesenheitsnotiz|fora do escrit[oó]rio|"
    r"aus[eê]ncia tempor[aá]ria|自动回复|自動回覆|自動応答|자동 회신)\s*[\]:]",
    re.IGNORECASE,
)
# Bare words a person may also put in a subject ("Férias coletivas: ...",
# "Out of office tomorrow?"): they count only on a reply to one of our mails.
_OOO_LOOSE = re.compile(
    r"^\s*(out of (the )?office|on vacation|away from (the )?office|aus[eê]ncia|ausente|"
    r"fora do escrit[oó]rio|f[eé]rias|abwesend|absence|ausencia)\b",
    re.IGNORECASE,
)
# ...but a subject that is nothing but one of them is a responder's.
_OOO_WHOLE = re.compile(
    r"^\s*(out of (the )?office|on vacation|away from (the )?office|aus[eê]ncia tempor[aá]ria|"
    r"fora do escrit[oó]rio|ausente do escrit[oó]rio|em f[eé]rias|abwesenheitsnotiz)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_MAILER_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)
# Local parts that only machines send from (Exchange's NDR sender is
# MicrosoftExchange<hex>@, Domino's "Mail Router", Lotus's "Postmaster").
_MACHINE_LOCAL = re.compile(
    r"^(mailer-?daemon|postmaster|mail-?daemon|mail-?router|microsoftexchange[0-9a-f]*|"
    r"mailerdaemon|mdaemon|bounces?|bounce-[^@]*|[^@]*-bounces?|[^@]*-owner|owner-[^@]*|"
    r"[^@]*-request|amavis[^@]*|virusalert|virus-?alert|mailscanner|quarantine|"
    r"smtp-?gateway|mailsweeper|symantec[^@]*|notify-?virus|antivirus|"
    r"no-?reply-?dsn|mailman[^@]*|listserv|majordomo|sympa)@",
    re.IGNORECASE,
)
# Display names mail servers sign with (the From may hold no address at all).
_MACHINE_NAME = re.compile(
    r"^\s*(mail delivery (system|subsystem)|postmaster|mailer-?daemon|mail router|"
    r"mail administrator|sistema de entrega de e-?mail)\s*$",
    re.IGNORECASE,
)
# Non-delivery subjects of real servers (Exchange in many languages, Exim,
# Postfix, sendmail, qmail, Domino, GroupWise, Gmail, Symantec). Anchored, so
# a customer's "Fwd: Undeliverable: ..." asking for help is not one.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|undeliverable mail|delivery status notification|"
    r"delivery failure|delivery failed|delivery has failed|delivery notification|"
    r"mail delivery failed|mail delivery failure|mail delivery system|"
    r"returned mail|returned to sender|failure notice|failed delivery|"
    r"message delivery failure|nondeliverable|non-deliverable|non deliverable|"
    r"delivery report|notice of non-?delivery|message not delivered|"
    r"unzustellbar|nicht zustellbar|non remis|non distribuable|"
    r"no se puede entregar|no entregado|onbestelbaar|kan niet worden bezorgd|"
    r"kunne ikke leveres|ej levererat|olevererbart|non recapitabile|"
    r"niedostarczalne|nie można dostarczyć|недоставлено|не доставлено|"
    r"nedoručitelné|teslim edilemedi|"
    r"n[aã]o foi poss[ií]vel entregar|n[aã]o [eé] poss[ií]vel entregar|mensagem n[aã]o entregue|"
    r"n[aã]o entregue|falha na entrega|entrega falhou|devolvid[ao]|"
    r"warning: could not send message|delayed mail|delivery delayed|permanent delivery failure|"
    r"mail delivery delayed|warning: message .{0,60} delayed|"
    r"report domain:|dsn:)",
    re.IGNORECASE,
)
# The opening words of the human part of MTA reports (Postfix, qmail, Exim,
# sendmail, Exchange, Domino), looked for in the first lines only: a
# customer who pastes a bounce into a new mail writes something above it.
_MTA_OPENING = re.compile(
    r"^\s*(this is the mail system at host|hi\. this is the qmail-send program|"
    r"this message was created automatically by mail delivery software|"
    r"the original message was received at|delivery has failed to these recipients|"
    r"your message did not reach some or all of the intended recipients|"
    r"your message (couldn't|could not|wasn't|was not) (be )?delivered|"
    r"this is an automatically generated delivery status notification|"
    r"a mensagem n[aã]o p[oô]de ser entregue|n[aã]o foi poss[ií]vel entregar|"
    r"your message was not delivered to|the following message to .{1,80} was undeliverable)",
    re.IGNORECASE,
)
# Gateway notices that our mail was held, scanned or needs a moderator: a
# machine wrote them, but they do not say an address is dead.
_NOTICE_SUBJECT = re.compile(
    r"^\s*(\[?(virus|vírus)\b|virus (alert|found|detected)|v[ií]rus detectado|"
    r"banned (content|file)|spam (quarantine|notification)|quarantine(d)? (notification|summary)|"
    r"message (blocked|quarantined|held)|mensagem (bloqueada|retida|em quarentena)|"
    r"blocked (message|email)|content (filter|violation)|"
    r"your message to .{1,80} awaits moderator approval|"
    r".{0,80}(awaits|awaiting|requires|held for) moderat(or|ion)|"
    r"sua mensagem .{0,80} aguarda (aprovação|moderação)|"
    r"message rejected|mensagem rejeitada|.{0,60}(virus|malware|viruses) (detected|found)|"
    r".{0,60}detected (a )?(virus|malware)|"
    r"warning: e-?mail viruses detected)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Classification:
    kind: str  # "person", "autoreply", "bounce", "loop"
    reason: str = ""


def _null_return_path(mail: InboundEmail, envelope_from: str | None) -> bool:
    # The SMTP door records MAIL FROM:<> as "<>" and its envelope is the return
    # path (a Return-Path header in mail that came over SMTP was written by an
    # earlier hop); a door without an envelope sees the header its MTA wrote.
    if envelope_from:
        return envelope_from.strip() == "<>"
    return mail.header("return-path").strip() == "<>"


def is_auto_submitted(mail: InboundEmail, envelope_from: str | None = None) -> str:
    """The reason mail is machine-generated, "" for mail from a person."""
    auto = mail.header("auto-submitted").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond"):
        if mail.header(name):
            return name
    # RFC 3834 section 2: never answer a mail with a null return path (RFC
    # 5321 4.5.5: notifications, which must not be answered). (Found by B12: a
    # plain mail sent with MAIL FROM:<> was acknowledged.) A mail with no
    # sender at all is left to the quarantine, as before.
    if mail.sender and _null_return_path(mail, envelope_from):
        return "null return path"
    precedence = mail.header("precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if mail.header("list-id"):
        return "List-Id"
    if _OOO_SUBJECT.match(mail.subject) or _OOO_WHOLE.match(mail.subject):
        return "out-of-office subject"
    if (
        _OOO_LOOSE.match(mail.subject)
        and mail.in_reply_to
        and (mail.header("x-auto-response-suppress") or mail.header("return-path").strip() == "<>")
    ):
        return "out-of-office subject on a reply"
    return ""


def _machine_sender(mail: InboundEmail) -> str:
    """Why the sender looks like a mail server rather than a person, "" if not."""
    return_path = mail.header("return-path").strip().strip("<> ").lower()
    if _MACHINE_LOCAL.match(return_path):
        return "Return-Path: " + return_path.partition("@")[0]
    if _MACHINE_LOCAL.match(mail.sender):
        return "From: " + mail.sender.partition("@")[0]
    if mail.header("return-path").strip() == "<>":
        return "null return path"
    if _MACHINE_NAME.match(mail.from_display):
        return f"From name: {mail.from_display}"
    if mail.from_ is None and not return_path:
        # "From: Mail Delivery System <>" or "Postmaster <>": no address at all.
        return "no From address"
    return ""


def _mta_opening(mail: InboundEmail) -> bool:
    lines = [line for line in (mail.text or mail.html)[:5000].split("\n") if line.strip()]
    return any(_MTA_OPENING.match(line) for line in lines[:2])


def is_bounce(mail: InboundEmail, envelope_from: str | None = None) -> str:
    """Why mail is a non-delivery report, "" when it is not one.

    A header only a mail server writes decides alone; a bounce-shaped subject
    or body needs a second sign that a machine sent it (a machine sender, a
    null return path, or a report that opens the way only mail servers write),
    because a customer's own "Returned mail?" must never be swallowed."""
    if mail.content_type == "multipart/report" and (
        mail.report_type == "delivery-status" or mail.delivery_status
    ):
        return "delivery-status report"
    if envelope_from is not None and envelope_from.strip() in {"", "<>"} and mail.delivery_status:
        return "null return path"
    if _MAILER_DAEMON.match(mail.sender):
        return "MAILER-DAEMON"
    return_path = mail.header("return-path").strip()
    if _MAILER_DAEMON.match(return_path.strip("<> ")):
        return "Return-Path: MAILER-DAEMON"
    if mail.header("x-failed-recipients"):
        return "X-Failed-Recipients"
    if return_path == "<>" and mail.delivery_status:
        return "null return path"
    if _BOUNCE_SUBJECT.match(mail.subject):
        machine = _machine_sender(mail)
        if machine:
            return f"non-delivery subject, {machine}"
        if _mta_opening(mail):
            return "non-delivery subject, a mail server's report text"
    return ""


def is_gateway_notice(mail: InboundEmail) -> str:
    """An antivirus, quarantine or list-moderation notice, "" if not one."""
    if not _NOTICE_SUBJECT.match(mail.subject):
        return ""
    machine = _machine_sender(mail)
    if machine:
        return f"gateway notice, {machine}"
    return ""


def is_our_own(mail: InboundEmail) -> str:
    """Our own mail coming back: loops through an autoresponder or a list."""
    loop = mail.header("x-loop").lower()
    if loop and any(is_our_address(v) or v in our_domains() for v in loop.split()):
        return f"X-Loop: {loop}"
    # Only the exact support addresses count here, not whole support domains:
    # agents often write from addresses at those domains, and that is not a loop.
    if mail.sender and is_our_address(mail.sender, domains=False):
        domain = mail.message_id.rpartition("@")[2].lower()
        if domain and domain in our_domains():
            return "our own Message-ID and From"
        return "From is one of our addresses"
    return ""


def _recent_mails() -> QuerySet[Any]:
    from mailgateway.models import InboundMessage

    since = timezone.now() - RATE_WINDOW
    return InboundMessage.objects.filter(received_at__gte=since).exclude(
        outcome=InboundMessage.Outcome.DUPLICATE
    )


def over_rate_limit(sender: str, *, exclude_id: int | None = None) -> bool:
    if not sender:
        return False
    recent = _recent_mails().filter(from_address=sender)
    if exclude_id is not None:
        recent = recent.exclude(pk=exclude_id)
    return recent.count() >= RATE_LIMIT


def recent_counts(senders: Iterable[str]) -> Counter[str]:
    """Mails stored in the rate window per sender, for many senders in one query."""
    rows = (
        _recent_mails()
        .filter(from_address__in=list(set(senders)))
        .values_list("from_address")
        .annotate(n=Count("id"))
    )
    return Counter({sender: n for sender, n in rows})


def classify(
    mail: InboundEmail,
    *,
    envelope_from: str | None = None,
    inbound_id: int | None = None,
    recent: int | None = None,
) -> Classification:
    """recent: the sender's other mails in the rate window, when the caller
    already counted them (the batch path); otherwise they are counted here."""
    own = is_our_own(mail)
    if own:
        return Classification("loop", own)
    # A gateway's antivirus or moderation notice often comes from postmaster@,
    # which would make it a bounce; it does not say an address is dead.
    notice = "" if mail.delivery_status else is_gateway_notice(mail)
    if notice:
        return Classification("autoreply", notice)
    bounce = is_bounce(mail, envelope_from)
    if bounce:
        return Classification("bounce", bounce)
    auto = is_auto_submitted(mail, envelope_from)
    if auto:
        return Classification("autoreply", auto)
    looping = (
        recent >= RATE_LIMIT
        if recent is not None
        else over_rate_limit(mail.sender, exclude_id=inbound_id)
    )
    if looping:
        return Classification("loop", f"more than {RATE_LIMIT} mails in 10 minutes from sender")
    return Classification("person")


def failed_recipients(mail: InboundEmail) -> list[tuple[str, str]]:
    """(address, reason) for every recipient a DSN reports as failed."""
    out: list[tuple[str, str]] = []
    for block in mail.delivery_status:
        if block.action and block.action not in {"failed"}:
            continue
        if block.status.startswith(("2", "4")):
            continue
        reason = " ".join(x for x in (block.status, block.diagnostic) if x)
        out.append((block.recipient, reason or "bounced"))
    if not out:
        for value in mail.headers.get("x-failed-recipients", ()):
            for addr in re.split(r"[,\s]+", value):
                if "@" in addr:
                    out.append((addr.strip("<>").lower(), "X-Failed-Recipients"))
    return out

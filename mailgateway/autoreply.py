"""What kind of mail this is before we thread it: a person, a machine's
auto-reply, a bounce, or our own mail coming back (a loop).

RFC 3834: never answer mail whose Auto-Submitted is anything but "no", mail
with a null return path, list/bulk mail, or mail from ourselves. Note that
X-Auto-Response-Suppress means "do not auto-reply to me", not "I am an
auto-reply" (Sisimai #491): it is honoured by outbound, not classified on here.
"""

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

_OOO_SUBJECT = re.compile(
    r"^\s*(\[?(auto|automatic|resposta autom[aá]tica|respuesta autom[aá]tica)\b|"
    r"out of (the )?office|autoreply|auto-reply|automatic reply|resposta autom[aá]tica|"
    r"aus[eê]ncia tempor[aá]ria|fora do escrit[oó]rio|ausente do escrit[oó]rio|"
    r"f[eé]rias|on vacation|away from (the )?office|abwesenheitsnotiz)",
    re.IGNORECASE,
)
_MAILER_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


@dataclass(frozen=True)
class Classification:
    kind: str  # "person", "autoreply", "bounce", "loop"
    reason: str = ""


def is_auto_submitted(mail: InboundEmail, envelope_from: str | None = None) -> str:
    """The reason mail is machine-generated, "" for mail from a person."""
    auto = mail.header("auto-submitted").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond"):
        if mail.header(name):
            return name
    precedence = mail.header("precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if mail.header("list-id"):
        return "List-Id"
    if _OOO_SUBJECT.match(mail.subject):
        return "out-of-office subject"
    return ""


def is_bounce(mail: InboundEmail, envelope_from: str | None = None) -> str:
    if mail.content_type == "multipart/report" and mail.report_type == "delivery-status":
        return "delivery-status report"
    if envelope_from is not None and envelope_from.strip() in {"", "<>"} and mail.delivery_status:
        return "null return path"
    if _MAILER_DAEMON.match(mail.sender):
        return "MAILER-DAEMON"
    return_path = mail.header("return-path").strip()
    if return_path == "<>" and (mail.delivery_status or mail.header("x-failed-recipients")):
        return "null return path"
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

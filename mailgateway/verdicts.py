"""The threading verdict (InboundMessage.verdict) in the reader's language.

The stored verdict is data: its rules and reasons are stable English codes
that tests, scripts and old rows rely on (mailgateway.threads writes them).
This is the one place that turns them into words for staff, at display time:
the ticket page's "how this mail was threaded" and the admin.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _

# Verdict.reject() reasons.
AGENT_UNPROVEN = "agent address without token or DMARC pass"
DMARC_FAIL = "DMARC fail"
NOT_PARTICIPANT = "sender is not a participant"
TICKET_GONE = "ticket no longer exists"
NO_SUCH_REFERENCE = "reference does not exist"
REOPEN_WINDOW = "closed longer than the reopen window"
FORWARD_GONE = "forward no longer exists"
FORWARD_BY_STAFF = "forward token used by staff"

REASONS: dict[str, Any] = {
    AGENT_UNPROVEN: _("an agent's address, without their reply token or a DMARC pass"),
    DMARC_FAIL: _("DMARC failed"),
    NOT_PARTICIPANT: _("the sender does not take part in the ticket"),
    TICKET_GONE: _("the ticket no longer exists"),
    NO_SUCH_REFERENCE: _("no ticket has this reference"),
    REOPEN_WINDOW: _("closed for longer than the reopen window"),
    FORWARD_GONE: _("the forwarded entry no longer exists"),
    FORWARD_BY_STAFF: _("a forward's reply address, used by staff"),
}
RULES: dict[str, Any] = {
    "token": _("reply address"),
    "message-id": _("In-Reply-To/References"),
    "subject": _("reference in the subject"),
    "new": _("new ticket"),
    "admin": _("released by an admin"),
}
DMARC: dict[str, Any] = {"pass": _("passed"), "fail": _("failed"), "none": _("not checked")}
# Rows written before the reference moved out of the reason ("HD-2026-0009 does not exist").
_OLD_NO_SUCH_REFERENCE = re.compile(r"^(?P<ref>\S+) does not exist$")


def reason_label(reason: str) -> str:
    if reason in REASONS:
        return str(REASONS[reason])
    if _OLD_NO_SUCH_REFERENCE.match(reason):
        return str(REASONS[NO_SUCH_REFERENCE])
    return reason


def for_display(verdict: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored verdict whose candidates read in the active language
    (rule and dmarc keep their codes, which templates compare; dmarc_label is
    the word for the latter)."""
    shown = dict(verdict)
    shown["dmarc_label"] = str(DMARC.get(verdict.get("dmarc", ""), verdict.get("dmarc", "")))
    shown["candidates"] = [
        {
            **c,
            "ticket": c.get("ticket") or _reference_of(c.get("reason", "")),
            "rule": str(RULES.get(c.get("rule", ""), c.get("rule", ""))),
            "reason": reason_label(c.get("reason", "")),
        }
        for c in verdict.get("candidates", [])
    ]
    return shown


def _reference_of(reason: str) -> str | None:
    old = _OLD_NO_SUCH_REFERENCE.match(reason)
    return old.group("ref") if old else None


def summary(verdict: dict[str, Any]) -> list[str]:
    """One line per rejected candidate, for the admin: "HD-2026-0001 (reply address): …"."""
    return [
        f"{c['ticket'] or '—'} ({c['rule']}): {c['reason']}"
        for c in for_display(verdict)["candidates"]
    ]

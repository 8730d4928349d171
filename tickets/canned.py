"""Canned replies: ready answers with placeholders, personal, per team or for
everyone, picked from the reply box or named in a mail reply (#canned NAME)."""

from __future__ import annotations

import string
from typing import Any

from django.db.models import Q, QuerySet

from tickets.models import CannedReply, Ticket

# Placeholder -> what it becomes; the Portuguese names are aliases.
PLACEHOLDERS = {
    "customer_name": "customer_name",
    "cliente": "customer_name",
    "reference": "reference",
    "referencia": "reference",
    "subject": "subject",
    "assunto": "subject",
    "agent_name": "agent_name",
    "agente": "agent_name",
}


def canned_for(user: Any) -> QuerySet[CannedReply]:
    """The canned replies user may use: their own, their teams' and everyone's."""
    return CannedReply.objects.filter(
        Q(owner=user) | Q(owner=None, team__members=user) | Q(owner=None, team=None)
    ).distinct()


def canned_find(user: Any, name: str) -> CannedReply | None:
    """The reply user may use called name (case-insensitive); their own first."""
    found = list(canned_for(user).filter(name__iexact=name.strip()))
    found.sort(key=lambda c: (c.owner_id is None, c.team_id is None))
    return found[0] if found else None


def _name(user: Any) -> str:
    if user is None:
        return ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return str(full or user.email)


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # an unknown placeholder stays as written


def canned_render(canned: CannedReply, *, ticket: Ticket, agent: Any) -> str:
    """The text with its placeholders filled in for ticket and agent. Only
    plain names are substituted: {x.y}, {x[0]} and format specs stay text,
    so a canned reply cannot reach into objects."""
    facts = {
        "customer_name": _name(ticket.created_by).split(" ")[0] if ticket.created_by_id else "",
        "reference": ticket.reference,
        "subject": ticket.subject,
        "agent_name": _name(agent),
    }
    values = _Values({alias: facts[key] for alias, key in PLACEHOLDERS.items()})
    out = []
    try:
        parts = list(string.Formatter().parse(canned.body))
    except ValueError:  # a lone brace: no placeholders to fill
        return canned.body
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if field in values and not spec and not conversion:
            out.append(values[field])
        else:
            raw = "{" + field + ("!" + conversion if conversion else "")
            out.append(raw + (":" + spec if spec else "") + "}")
    return "".join(out)

"""Canned replies in the panel: the picker's data for a ticket, and the page
where agents keep their own."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tickets.canned import canned_for, canned_render
from tickets.models import Ticket


def scope_label(canned: Any) -> str:
    if canned.owner_id is not None:
        return _("mine")
    if canned.team_id is not None:
        return str(canned.team)
    return _("everyone")


def canned_choices(*, ticket: Ticket, agent: Any) -> list[dict[str, str]]:
    """The agent's canned replies filled in for ticket, the requester's language first."""
    language = getattr(ticket.created_by, "language", "")
    replies = list(canned_for(agent).select_related("team"))
    replies.sort(key=lambda c: (c.language not in {"", language}, c.name.lower()))
    return [
        {
            "name": c.name,
            "body": canned_render(c, ticket=ticket, agent=agent),
            "scope": scope_label(c),
            "language": c.language,
        }
        for c in replies
    ]

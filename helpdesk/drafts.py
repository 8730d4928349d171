"""Reply drafts kept on the server while an agent moves around.

Server-side rather than localStorage: a draft follows the agent to another
browser or device, and nothing about a customer is left behind in a shared
browser's storage after logging out. A draft is cleared by the same
transaction that posts the reply or note (a tickets.events subscriber), so a
sent text never comes back as a draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from helpdesk.models import ReplyDraft
from tickets import events
from tickets.access import is_staff
from tickets.models import Ticket

MAX_DRAFT_CHARS = 100_000


def draft_get(*, user: Any, ticket: Ticket, kind: str) -> str:
    draft = ReplyDraft.objects.filter(user=user, ticket=ticket, kind=kind).first()
    return draft.body if draft else ""


def draft_save(*, user: Any, ticket: Ticket, kind: str, body: str) -> None:
    """Keep body as the user's draft; an empty body removes the draft."""
    if kind not in ReplyDraft.Kind.values:
        raise ValueError(f"Unknown draft kind {kind!r}.")
    if not body.strip():
        ReplyDraft.objects.filter(user=user, ticket=ticket, kind=kind).delete()
        return
    ReplyDraft.objects.update_or_create(
        user=user, ticket=ticket, kind=kind, defaults={"body": body[:MAX_DRAFT_CHARS]}
    )


def clear_sent_draft(changes: Sequence[events.TicketChanged]) -> None:
    # Only staff keep drafts. The ticket page has one box for replies and
    # notes, so whatever was sent came from the draft of either kind: both go.
    sent = Q()
    for change in changes:
        message = change.message
        if change.kind in {"reply", "note"} and message is not None and is_staff(message.author):
            sent |= Q(user_id=message.author_id, ticket=change.ticket)
    if sent:
        ReplyDraft.objects.filter(sent).delete()

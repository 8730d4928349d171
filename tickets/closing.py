"""Closing the loop: resolved tickets the customer did not answer close by
themselves, and a bare "thanks" does not reopen a ticket."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.models import Ticket
from tickets.states import InvalidTransition, Status


def autoclose_due(now: datetime | None = None) -> list[int]:
    """Ids of the resolved tickets resolved more than HELPDESK_AUTOCLOSE_DAYS ago."""
    days = int(getattr(settings, "HELPDESK_AUTOCLOSE_DAYS", 5))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return list(
        Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)
    )


def autoclose(ticket_id: int, now: datetime | None = None) -> bool:
    """Close one ticket if it is still due (another copy of the job, or the
    customer, may have got there first); True when this call closed it."""
    from tickets import services

    days = int(getattr(settings, "HELPDESK_AUTOCLOSE_DAYS", 5))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if ticket is None or ticket.status != Status.RESOLVED:
            return False
        if ticket.resolved_at is None or ticket.resolved_at >= cutoff:
            return False
        try:
            services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=None)
        except InvalidTransition:
            return False
    return True


# A reply that only says thanks: one of these words, a few others at most,
# no question. Portuguese, English and Spanish, as customers write them.
_THANKS = re.compile(
    r"\b(obrigad[oa]s?|obg|brigad[oa]|valeu|vlw|agrade[cç]o|grat[oa]|"
    r"thanks?|thank\s+you|thx|ty|cheers|gracias|merci|danke)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
MAX_THANKS_WORDS = 20


def is_bare_thanks(text: str) -> bool:
    """True for "Obrigado!", "Valeu, funcionou :)", "Thanks a lot, Ana": short,
    thankful, and asking nothing (a question mark means it wants an answer)."""
    text = text.strip()
    if "?" in text or not _THANKS.search(text):
        return False
    return len(_WORD.findall(text)) <= MAX_THANKS_WORDS

"""Full-text search over tickets: reference, subject and message bodies."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from tickets.models import Message, Ticket


def search_tickets(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """The tickets of queryset that match text; queryset unchanged for blank text.

    Only public replies are searched: an internal note must never make a
    ticket show up in a customer's list.
    """
    text = " ".join(text.split())
    if not text:
        return queryset
    in_body = Message.objects.filter(
        ticket=OuterRef("pk"), kind=Message.Kind.REPLY, body__icontains=text
    )
    return queryset.filter(Q(reference__iexact=text) | Q(subject__icontains=text) | Exists(in_body))

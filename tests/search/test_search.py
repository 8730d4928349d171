from typing import Any

from tickets import services
from tickets.models import Ticket
from tickets.search import search_tickets


def test_it_finds_by_reference_subject_and_body(ticket: Ticket, customer: Any) -> None:
    other = services.ticket_create(requester=customer, subject="Boleto", body="Segunda via")
    everything = Ticket.objects.all()
    assert list(search_tickets(everything, ticket.reference.lower())) == [ticket]
    assert list(search_tickets(everything, "impressora")) == [ticket]
    assert list(search_tickets(everything, "segunda via")) == [other]
    assert set(search_tickets(everything, "  ")) == {ticket, other}
    assert list(search_tickets(everything, "nada disso")) == []


def test_it_does_not_match_internal_notes(ticket: Ticket, agent: Any) -> None:
    services.ticket_reply_add(ticket=ticket, author=agent, body="senha secreta", internal=True)
    assert list(search_tickets(Ticket.objects.all(), "senha secreta")) == []

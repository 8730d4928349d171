from collections.abc import Sequence
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tickets import events, services
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import NewAttachment
from tickets.states import Status


@pytest.fixture
def announced() -> Any:
    seen: list[events.TicketChanged] = []
    events.subscribe(seen.extend)
    yield seen
    events._subscribers.remove(seen.extend)


def test_it_opens_a_ticket_with_its_first_message_and_team(
    ticket: Ticket, customer: Any, category: Any
) -> None:
    assert ticket.reference.startswith("HD-")
    assert ticket.status == Status.OPEN and ticket.created_by == customer
    assert ticket.team == category.default_team
    message = ticket.messages.get()
    assert message.kind == Message.Kind.REPLY and message.author == customer
    assert TicketEvent.objects.filter(ticket=ticket, kind="created").count() == 1


def test_it_cleans_line_breaks_from_subjects(customer: Any) -> None:
    ticket = services.ticket_create(requester=customer, subject="Oi\r\nBcc: x@evil", body="b")
    assert ticket.subject == "Oi Bcc: x@evil"
    with pytest.raises(ValidationError):
        services.ticket_create(requester=customer, subject=" \r\n ", body="b")


def test_it_stores_attachments_with_hash_and_safe_name(customer: Any) -> None:
    ticket = services.ticket_create(
        requester=customer,
        subject="anexo",
        body="b",
        attachments=[
            NewAttachment(
                name="../../etc/passwd\u202egpj.exe", content_type="text/plain", content=b"hello"
            )
        ],
    )
    att = ticket.attachments.get()
    assert att.size == 5
    assert att.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert att.original_name == "passwdgpj.exe"
    assert "passwd" not in att.file.name and att.file.read() == b"hello"


def test_it_announces_changes_inside_the_transaction(
    ticket: Ticket, agent: Any, announced: Any
) -> None:
    services.ticket_priority_set(ticket=ticket, priority="urgent", actor=agent)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    assert [(e.kind, e.old, e.new) for e in announced] == [
        ("priority", "medium", "urgent"),
        ("assignee", "", agent.email),
    ]
    assert TicketEvent.objects.filter(ticket=ticket, kind__in=["priority", "assignee"]).count() == 2


def test_a_failing_subscriber_rolls_back_the_change(ticket: Ticket, agent: Any) -> None:
    def boom(changes: Sequence[events.TicketChanged]) -> None:
        raise RuntimeError("outbox unavailable")

    events.subscribe(boom)
    try:
        with pytest.raises(RuntimeError):
            services.ticket_priority_set(ticket=ticket, priority="high", actor=agent)
    finally:
        events._subscribers.remove(boom)
    ticket.refresh_from_db()
    assert ticket.priority == "medium"
    assert not TicketEvent.objects.filter(kind="priority").exists()


def test_first_staff_reply_stamps_first_response(ticket: Ticket, agent: Any, customer: Any) -> None:
    services.ticket_reply_add(ticket=ticket, author=customer, body="mais detalhes")
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    services.ticket_reply_add(ticket=ticket, author=agent, body="nota", internal=True)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    reply = services.ticket_reply_add(
        ticket=ticket, author=agent, body="Olá!", set_status=Status.WAITING_CUSTOMER
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at
    assert ticket.status == Status.WAITING_CUSTOMER


def test_customer_reply_reopens_a_waiting_ticket(ticket: Ticket, agent: Any, customer: Any) -> None:
    services.ticket_transition(ticket=ticket, to=Status.WAITING_CUSTOMER, actor=agent)
    services.ticket_reply_add(ticket=ticket, author=customer, body="Ainda não funciona")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_customers_cannot_write_notes_or_staff_fields(
    ticket: Ticket, customer: Any, other_customer: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.ticket_reply_add(ticket=ticket, author=customer, body="x", internal=True)
    with pytest.raises(PermissionDenied):
        services.ticket_reply_add(ticket=ticket, author=other_customer, body="x")
    with pytest.raises(PermissionDenied):
        services.ticket_priority_set(ticket=ticket, priority="urgent", actor=customer)
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket=ticket, to=Status.IN_PROGRESS, actor=customer)


def test_customer_may_confirm_or_reopen_a_resolution(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=customer)
    services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=customer)
    assert ticket.status == Status.OPEN


def test_a_cc_may_reply(ticket: Ticket, other_customer: Any) -> None:
    services.ticket_cc_add(ticket=ticket, email="OTTO@outra.com.br")
    services.ticket_reply_add(ticket=ticket, author=other_customer, body="eu também")
    assert ticket.messages.count() == 2


def test_only_agents_can_be_assigned(ticket: Ticket, agent: Any, customer: Any) -> None:
    with pytest.raises(ValidationError):
        services.ticket_assign(ticket=ticket, assignee=customer, actor=agent)


def test_transfer_to_a_team_records_both_changes(ticket: Ticket, agent: Any, manager: Any) -> None:
    from tickets.models import Team

    other = Team.objects.create(name="Financeiro")
    services.ticket_assign(ticket=ticket, assignee=manager, team=other, actor=agent)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.assigned_to) == (other, manager)
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == ["created", "team", "assignee"]

"""ticket_merge: the duplicate's thread, files, Message-IDs and people move to
the survivor; the duplicate is closed, quietly, and points there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tickets import selectors, services
from tickets.models import Attachment, MailId, Message, Ticket, TicketEvent
from tickets.services import NewAttachment
from tickets.states import InvalidTransition, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def duplicate(other_customer: Any) -> Ticket:
    ticket = services.ticket_create(
        requester=other_customer,
        subject="Impressora de novo",
        body="A impressora do andar parou.",
        message_id="<dup1@outra.com.br>",
        ccs=[("chefe@outra.com.br", "Chefe")],
        attachments=[NewAttachment(name="foto.jpg", content_type="image/jpeg", content=b"jpg")],
    )
    services.mail_id_record(ticket=ticket, message_id="<out-dup@example.com>", outbound=True)
    return ticket


def test_merge_moves_everything_and_keeps_both_requesters(
    ticket: Ticket, duplicate: Ticket, agent: Any, other_customer: Any
) -> None:
    # The duplicate's first message is older than the survivor's reply.
    Message.objects.filter(ticket=duplicate).update(created_at=timezone.now() - timedelta(hours=1))
    services.ticket_reply_add(ticket=ticket, author=agent, body="Reinicie, por favor.")

    survivor = services.ticket_merge(source=duplicate, target=ticket, actor=agent)

    assert survivor == ticket
    thread = list(ticket.messages.values_list("body", flat=True))
    assert thread == [
        "A impressora do andar parou.",
        "Desde ontem a impressora não funciona.",
        "Reinicie, por favor.",
    ]
    assert not duplicate.messages.exists()
    assert Attachment.objects.get(original_name="foto.jpg").ticket_id == ticket.pk
    assert set(MailId.objects.filter(ticket=ticket).values_list("message_id", flat=True)) >= {
        "dup1@outra.com.br",
        "out-dup@example.com",
    }
    assert set(ticket.ccs.values_list("email", flat=True)) == {
        other_customer.email,
        "chefe@outra.com.br",
    }
    assert services.is_participant(ticket, other_customer.email)
    assert ticket.created_by.email == "carla@cliente.com.br"

    duplicate.refresh_from_db()
    assert duplicate.merged_into == ticket and duplicate.status == Status.CLOSED
    assert duplicate.closed_at is not None
    assert list(ticket.merged_from.all()) == [duplicate]
    assert selectors.ticket_survivor(duplicate) == ticket


def test_merge_is_audited_on_both_and_mails_nobody(
    ticket: Ticket, duplicate: Ticket, agent: Any, mailoutbox: Any
) -> None:
    from outbound.models import OutboxItem

    before = OutboxItem.objects.count()
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    out = duplicate.events.get(kind=TicketEvent.Kind.MERGED)
    into = ticket.events.get(kind=TicketEvent.Kind.MERGED)
    for event in (out, into):
        assert (event.old_value, event.new_value) == (duplicate.reference, ticket.reference)
        assert event.actor == agent
    assert duplicate.events.filter(kind=TicketEvent.Kind.STATUS, new_value="closed").exists()
    assert OutboxItem.objects.count() == before


def test_the_same_requester_is_not_copied(ticket: Ticket, customer: Any, agent: Any) -> None:
    again = services.ticket_create(requester=customer, subject="Outra vez", body="Parou.")
    services.ticket_merge(source=again, target=ticket, actor=agent)
    assert not ticket.ccs.exists()


def test_only_staff_merge_and_never_twice_or_into_itself(
    ticket: Ticket, duplicate: Ticket, agent: Any, customer: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.ticket_merge(source=duplicate, target=ticket, actor=customer)
    with pytest.raises(ValidationError):
        services.ticket_merge(source=ticket, target=ticket, actor=agent)
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    with pytest.raises(ValidationError):
        services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    with pytest.raises(ValidationError):
        services.ticket_merge(source=ticket, target=duplicate, actor=agent)


def test_a_merged_ticket_takes_no_reply_and_stays_closed(
    ticket: Ticket, duplicate: Ticket, agent: Any, other_customer: Any
) -> None:
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    with pytest.raises(ValidationError):
        services.ticket_reply_add(ticket=duplicate, author=agent, body="Aqui?")
    with pytest.raises(InvalidTransition):
        services.ticket_transition(ticket=duplicate, to=Status.OPEN, actor=other_customer)


def test_tickets_merged_into_the_duplicate_follow_it(
    ticket: Ticket, duplicate: Ticket, agent: Any, customer: Any
) -> None:
    third = services.ticket_create(requester=customer, subject="Terceiro", body="Idem.")
    services.ticket_merge(source=third, target=duplicate, actor=agent)
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    third.refresh_from_db()
    assert third.merged_into == ticket
    assert set(ticket.merged_from.all()) == {duplicate, third}


def test_related_shows_the_links_to_staff_only(
    ticket: Ticket, duplicate: Ticket, agent: Any, customer: Any, other_customer: Any
) -> None:
    linked = services.ticket_create(
        requester=other_customer, subject="Sobre", body="Vi o chamado.", linked_to=ticket
    )
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    staff = selectors.ticket_related(ticket=ticket, user=agent)
    assert staff.merged_from == [duplicate] and staff.linked_from == [linked]
    assert selectors.ticket_related(ticket=linked, user=agent).linked_to == ticket
    assert selectors.ticket_related(ticket=ticket, user=customer).linked_from == []
    # The duplicate's requester may read their old ticket, not the survivor.
    other = selectors.ticket_related(ticket=duplicate, user=other_customer)
    assert other.merged_into is None and other.merged_into_reference == ticket.reference
    assert selectors.ticket_related(ticket=duplicate, user=agent).merged_into == ticket

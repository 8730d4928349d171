from typing import Any

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tickets import selectors
from tickets.models import Message, Ticket


def test_customer_reads_only_their_own_tickets(
    ticket: Ticket, customer: Any, other_customer: Any
) -> None:
    assert list(selectors.ticket_list(user=customer)) == [ticket]
    assert list(selectors.ticket_list(user=other_customer)) == []
    with pytest.raises(Ticket.DoesNotExist):
        selectors.ticket_get(user=other_customer, reference=ticket.reference)


@pytest.mark.parametrize("who", ["agent", "manager", "admin_user"])
def test_staff_read_every_ticket(ticket: Ticket, who: str, request: Any) -> None:
    user = request.getfixturevalue(who)
    assert selectors.ticket_get(user=user, reference=ticket.reference.lower()) == ticket


def test_agents_can_be_restricted_to_their_teams(
    ticket: Ticket, agent: Any, manager: Any, settings: Any
) -> None:
    from helpdesk.accounts import user_create

    outsider = user_create(email="out@support.example", role="agent")
    settings.HELPDESK_AGENTS_SEE_ALL = False
    assert selectors.ticket_get(user=agent, reference=ticket.reference) == ticket  # team member
    assert selectors.ticket_get(user=manager, reference=ticket.reference) == ticket
    with pytest.raises(Ticket.DoesNotExist):
        selectors.ticket_get(user=outsider, reference=ticket.reference)


def test_internal_notes_never_reach_customers(ticket: Ticket, agent: Any, customer: Any) -> None:
    from tickets import services

    services.ticket_reply_add(ticket=ticket, author=agent, body="segredo", internal=True)
    kinds = set(
        selectors.ticket_thread(ticket=ticket, user=customer).values_list("kind", flat=True)
    )
    assert Message.Kind.NOTE not in kinds
    assert selectors.ticket_thread(ticket=ticket, user=agent).filter(kind="note").count() == 1


def test_customer_cannot_use_the_admin(client: Client, ticket: Ticket, other_customer: Any) -> None:
    client.login(username=other_customer.email, password=PASSWORD)
    response = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("who", ["agent", "manager"])
def test_staff_see_tickets_in_the_admin(
    client: Client, ticket: Ticket, who: str, request: Any
) -> None:
    user = request.getfixturevalue(who)
    client.force_login(user)
    listing = client.get("/admin/tickets/ticket/")
    assert listing.status_code == 200 and ticket.reference in listing.content.decode()
    detail = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert detail.status_code == 200 and ticket.subject in detail.content.decode()


def test_restricted_agent_gets_404_in_the_admin(
    client: Client, ticket: Ticket, settings: Any
) -> None:
    from helpdesk.accounts import user_create

    settings.HELPDESK_AGENTS_SEE_ALL = False
    outsider = user_create(email="out@support.example", role="agent")
    client.force_login(outsider)
    assert ticket.reference not in client.get("/admin/tickets/ticket/").content.decode()
    response = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert response.status_code == 302  # the admin redirects a missing object to the list


def test_admin_change_goes_through_services(
    client: Client, ticket: Ticket, admin_user: Any
) -> None:
    client.force_login(admin_user)
    response = client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/",
        {
            "priority": "urgent",
            "category": ticket.category_id,
            "team": ticket.team_id,
            "assigned_to": "",
            "ccs-TOTAL_FORMS": "0",
            "ccs-INITIAL_FORMS": "0",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = ticket.events.get(kind="priority")
    assert (event.old_value, event.new_value, event.actor) == ("medium", "urgent", admin_user)

"""The ticket page's merge form, merged/linked tickets on both sides, the
merged ticket's banner, and tags in place."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpdesk.conftest import client_for
from tickets import services
from tickets.models import Tag, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def duplicate(other_customer: Any) -> Ticket:
    return services.ticket_create(
        requester=other_customer, subject="Impressora de novo", body="Parou outra vez."
    )


def test_staff_merge_from_the_page_and_both_sides_show_the_link(
    ticket: Ticket, duplicate: Ticket, agent_client: Client
) -> None:
    page = agent_client.get(duplicate.get_absolute_url()).content.decode()
    assert f'action="/tickets/{duplicate.reference}/merge/"' in page

    response = agent_client.post(
        f"/tickets/{duplicate.reference}/merge/", {"merge-into": ticket.reference.lower()}
    )
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    duplicate.refresh_from_db()
    assert duplicate.merged_into == ticket

    survivor = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert 'data-relation="merged-from"' in survivor and duplicate.reference in survivor
    assert "Parou outra vez." in survivor  # the thread joined
    merged = agent_client.get(duplicate.get_absolute_url()).content.decode()
    assert 'data-relation="merged-into"' in merged
    assert "merged-banner" in merged and f'href="{ticket.get_absolute_url()}"' in merged
    assert 'id="reply-form"' not in merged and "merge-card" not in merged


def test_a_bad_target_is_refused_with_a_message(
    ticket: Ticket, duplicate: Ticket, agent_client: Client
) -> None:
    for into in ("", "nada", "HD-1999-9999", duplicate.reference):
        response = agent_client.post(
            f"/tickets/{duplicate.reference}/merge/", {"merge-into": into}, follow=True
        )
        assert response.status_code == 200
        assert response.context["messages"]
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None and duplicate.status == "open"


def test_the_merged_tickets_customer_sees_the_banner_a_stranger_gets_404(
    ticket: Ticket, duplicate: Ticket, agent: Any, other_customer: Any, customer: Any
) -> None:
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    page = client_for(other_customer).get(duplicate.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200 and "merged-banner" in html and ticket.reference in html
    # Otto cannot read Carla's ticket: the banner names it without a link.
    assert f'href="{ticket.get_absolute_url()}"' not in html
    assert "Related tickets" not in html
    stranger = client_for(customer).get(duplicate.get_absolute_url())
    assert stranger.status_code == 404
    # A reply posted to the old page goes nowhere, and says so.
    client_for(other_customer).post(f"/tickets/{duplicate.reference}/reply/", {"body": "Oi?"})
    assert not duplicate.messages.exists()


def test_linked_tickets_are_shown_on_both_for_staff(
    ticket: Ticket, other_customer: Any, agent_client: Client, customer_client: Client
) -> None:
    linked = services.ticket_create(
        requester=other_customer, subject="Sobre a impressora", body="Eu também.", linked_to=ticket
    )
    original = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert 'data-relation="linked-from"' in original and linked.reference in original
    other = agent_client.get(linked.get_absolute_url()).content.decode()
    assert 'data-relation="linked-to"' in other and ticket.reference in other
    assert linked.reference not in customer_client.get(ticket.get_absolute_url()).content.decode()


def test_tags_in_place(ticket: Ticket, agent: Any, agent_client: Client) -> None:
    url = f"/tickets/{ticket.reference}/tags/"
    fragment = agent_client.post(url, {"add": " VIP  cliente "}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and fragment["HX-Trigger"] == "ticketChanged"
    assert "VIP cliente" in fragment.content.decode()
    agent_client.post(url, {"add": "vip CLIENTE"}, HTTP_HX_REQUEST="true")  # the same tag
    assert list(ticket.tags.values_list("name", flat=True)) == ["VIP cliente"]
    assert Tag.objects.count() == 1
    assert agent_client.post(url, {"add": "  "}, HTTP_HX_REQUEST="true").status_code == 200
    agent_client.post(url, {"remove": "vip cliente"})
    assert not ticket.tags.exists()
    events = ticket.events.filter(kind=TicketEvent.Kind.TAGS)
    changes = [(e.old_value, e.new_value) for e in events]
    assert changes == [("", "VIP cliente"), ("VIP cliente", "")]
    thread = agent_client.get(f"/tickets/{ticket.reference}/thread/").content.decode()
    assert thread.count("VIP cliente") == 2  # added, removed


def test_tags_mail_nobody(ticket: Ticket, agent: Any) -> None:
    from outbound.models import OutboxItem

    before = OutboxItem.objects.count()
    services.ticket_tag_add(ticket=ticket, name="urgente-mesmo", actor=agent)
    services.ticket_tag_remove(ticket=ticket, name="urgente-mesmo", actor=agent)
    assert OutboxItem.objects.count() == before


def test_the_merged_tickets_customer_cannot_reopen_it(
    ticket: Ticket, duplicate: Ticket, agent: Any, other_customer: Any
) -> None:
    services.ticket_merge(source=duplicate, target=ticket, actor=agent)
    client = client_for(other_customer)
    response = client.post(
        f"/tickets/{duplicate.reference}/reopen/", {"comment": "Ainda não funciona"}
    )
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.status == "closed" and not duplicate.messages.exists()
    assert (
        f"/tickets/{duplicate.reference}/reopen/"
        not in client.get(duplicate.get_absolute_url()).content.decode()
    )

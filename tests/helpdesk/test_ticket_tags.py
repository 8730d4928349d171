"""Tags on the ticket list: the bulk add-tag action, the tag filter, tags in
the rows, and the list's query count with tags on every row."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.helpdesk.test_ticket_list import make_tickets, refs
from tickets import services
from tickets.models import Category, Tag, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def test_bulk_add_tag(customer: Any, agent: Any, agent_client: Client) -> None:
    a, b, c = make_tickets(customer, 3)
    response = agent_client.post(
        "/tickets/bulk/",
        {"action": "tag", "tag": "Impressoras", "tickets": [a.reference, b.reference]},
    )
    assert response.status_code == 302
    assert [t.tags.count() for t in (a, b, c)] == [1, 1, 0]
    assert Tag.objects.get().name == "Impressoras"
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.TAGS).count() == 2
    # Again, in another case: the same tag, nothing new to record.
    agent_client.post(
        "/tickets/bulk/", {"action": "tag", "tag": "impressoras", "tickets": [a.reference]}
    )
    assert Tag.objects.count() == 1 and a.tags.count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.TAGS).count() == 2


def test_bulk_add_tag_needs_a_name(customer: Any, agent_client: Client) -> None:
    (a,) = make_tickets(customer, 1)
    response = agent_client.post(
        "/tickets/bulk/", {"action": "tag", "tag": " ", "tickets": [a.reference]}, follow=True
    )
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert not a.tags.exists()


def test_tag_filter_and_tags_in_the_rows(
    customer: Any, agent: Any, agent_client: Client, customer_client: Client
) -> None:
    a, b = make_tickets(customer, 2)
    services.ticket_tag_add(ticket=a, name="VIP", actor=agent)
    services.ticket_tag_add(ticket=a, name="impressora", actor=agent)
    services.ticket_tag_add(ticket=b, name="rede", actor=agent)
    assert refs(agent_client.get("/tickets/?tag=VIP")) == [a.reference]
    assert sorted(refs(agent_client.get("/tickets/?tag=nao-existe"))) == sorted(
        [a.reference, b.reference]
    )  # an old bookmark still opens
    page = agent_client.get("/tickets/").content.decode()
    assert 'href="/tickets/?tag=VIP"' in page and ">impressora</a>" in page
    assert '<option value="rede">rede</option>' in page  # the filter's choices
    # Customers see no tags and cannot filter by them.
    mine = customer_client.get("/tickets/?tag=VIP")
    assert sorted(refs(mine)) == sorted([a.reference, b.reference])
    html = mine.content.decode()
    assert 'href="/tickets/?tag=VIP"' not in html and 'name="tag"' not in html


def test_tags_keep_the_list_query_count_constant(
    customer: Any, agent: Any, agent_client: Client, category: Category
) -> None:
    tags = [services.tag_get_or_create(name=f"tag-{i}") for i in range(3)]
    urls = [
        ("/tickets/?per_page=100&q=Assunto&status=open&sort=priority", {}),
        ("/tickets/?per_page=100", {"HTTP_HX_REQUEST": "true"}),
        ("/tickets/?per_page=100&tag=tag-1", {"HTTP_HX_REQUEST": "true"}),
    ]

    def add(count: int) -> None:
        for t in make_tickets(customer, count, category=category):
            Ticket.objects.filter(pk=t.pk).update(assigned_to=agent, team=category.default_team)
            t.tags.add(*tags)

    def queries(count: int) -> list[int]:
        counted = []
        for url, headers in urls:
            with CaptureQueriesContext(connection) as ctx:
                response = agent_client.get(url, **headers)
            assert len(refs(response)) == count
            assert response.content.decode().count(">tag-2</a>") == count
            counted.append(len(ctx.captured_queries))
        return counted

    add(10)
    ten = queries(10)
    add(50)
    assert queries(60) == ten
    assert ten[0] <= 16 and max(ten[1:]) <= 10

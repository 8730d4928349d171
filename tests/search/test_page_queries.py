"""The ticket list and the ticket page run a constant number of SQL queries,
whatever the number of rows or messages (no N+1)."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tickets import services
from tickets.models import Category, Team, Ticket
from tickets.services import NewAttachment


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _tickets(n: int, customer: Any, agent: Any, category: Category, team: Team) -> None:
    for number in range(n):
        ticket = services.ticket_create(
            requester=customer,
            subject=f"Impressora {number}",
            body="A impressora não imprime.",
            category=category if number % 2 else None,
        )
        if number % 3:
            services.ticket_assign(ticket=ticket, assignee=agent, actor=agent, team=team)


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status=open&priority=medium",
        "?sort=-priority",
        "?sort=assignee",
        "?q=impressora",
        "?q=impressora&sort=-created&mine=on",
    ],
)
def test_the_list_runs_as_many_queries_for_100_rows_as_for_10(
    query: str,
    customer: Any,
    agent: Any,
    category: Category,
    team: Team,
    django_assert_max_num_queries: Any,
) -> None:
    url = "/tickets/" + (query + "&" if query else "?") + "per_page=100"
    client = _client(agent)
    _tickets(10, customer, agent, category, team)
    few = _count(client, url)
    _tickets(90, customer, agent, category, team)
    with django_assert_max_num_queries(few):
        response = client.get(url)
    # "mine" keeps the two thirds assigned to the agent; the others keep all 100.
    assert response.content.count(b'data-ticket="') in (66, 100)
    # The htmx fragment too.
    few_fragment = _count(client, url + "&page=1")
    with django_assert_max_num_queries(few_fragment):
        client.get(url, headers={"HX-Request": "true"})


def _thread(ticket: Ticket, messages: int, customer: Any, agent: Any) -> None:
    for number in range(messages):
        if number % 5 == 0:
            services.ticket_reply_add(
                ticket=ticket,
                author=agent,
                body=f"Nota {number}",
                internal=True,
            )
        elif number % 2:
            services.ticket_reply_add(
                ticket=ticket,
                author=customer,
                body=f"Resposta {number}\n> citação",
                attachments=[NewAttachment(f"foto{number}.png", "image/png", b"\x89PNG")],
            )
        else:
            services.ticket_reply_add(ticket=ticket, author=agent, body=f"Retorno {number}")
        if number % 10 == 3:
            services.ticket_priority_set(
                ticket=ticket, priority="high" if number % 20 == 3 else "low", actor=agent
            )


@pytest.mark.parametrize("who", ["agent", "customer"])
def test_the_ticket_page_runs_as_many_queries_for_200_messages_as_for_5(
    who: str,
    ticket: Ticket,
    customer: Any,
    agent: Any,
    django_assert_max_num_queries: Any,
) -> None:
    client = _client(agent if who == "agent" else customer)
    url = ticket.get_absolute_url()
    _thread(ticket, 4, customer, agent)
    few = _count(client, url)
    _thread(ticket, 195, customer, agent)
    assert ticket.messages.count() == 200
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert b"Retorno 194" in response.content
    assert (b"Nota 190" in response.content) == (who == "agent")

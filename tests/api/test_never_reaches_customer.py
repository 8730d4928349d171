"""Internal content never reaches a customer through the API: the ticket
seeded with every kind of staff-only content (tests/helpdesk/
test_never_reaches_customer.py), read through every endpoint a customer may
call (from the permission matrix)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tests.api.conftest import token_client
from tests.api.test_permission_matrix import EXPECTED
from tests.helpdesk.test_never_reaches_customer import LEAKS, seeded  # noqa: F401
from tickets.models import Message, Ticket


def customer_urls(ticket: Ticket) -> list[str]:
    urls = []
    for (name, method), (_data, expected) in EXPECTED.items():
        if method != "GET" or expected["owner"] != 200 or name in {"api_schema", "api_docs"}:
            continue
        if name in {"api:ticket-detail", "api:ticket-messages"}:
            urls.append(reverse(name, kwargs={"reference": ticket.reference}))
        else:
            urls.append(reverse(name))
    for leak in LEAKS:  # a search may match a note's words, never show them
        urls.append(f"{reverse('api:ticket-list')}?q={leak}")
    return urls


def test_no_endpoint_gives_a_customer_internal_content(seeded: Ticket, customer: Any) -> None:  # noqa: F811
    assert Message.objects.filter(ticket=seeded, kind=Message.Kind.NOTE).exists()
    client = token_client(customer)
    for url in customer_urls(seeded):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for leak in LEAKS:
            assert leak not in text, (url, leak)


def test_staff_do_get_them(seeded: Ticket, agent: Any) -> None:  # noqa: F811
    text = token_client(agent).get(f"/api/v1/tickets/{seeded.reference}/messages/").content
    assert LEAKS[0].encode() in text
    assert LEAKS[1].encode() in text  # the note's file, listed for staff

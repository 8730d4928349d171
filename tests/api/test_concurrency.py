"""ETag and If-Match: of two edits made from the same read, one gets 412."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.api.conftest import token_client
from tickets import services
from tickets.models import Ticket


def patch(client: Client, ticket: Ticket, etag: str, data: dict[str, Any]) -> Any:
    return client.patch(
        f"/api/v1/tickets/{ticket.reference}/",
        data,
        content_type="application/json",
        headers={"if-match": etag},
    )


def test_the_second_edit_from_the_same_read_gets_412(
    agent_api: Client, manager_api: Client, ticket: Ticket
) -> None:
    etag = agent_api.get(f"/api/v1/tickets/{ticket.reference}/")["ETag"]
    first = patch(agent_api, ticket, etag, {"priority": "high"})
    second = patch(manager_api, ticket, etag, {"priority": "low"})
    assert (first.status_code, second.status_code) == (200, 412)
    assert second.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert first["ETag"] != etag
    assert patch(manager_api, ticket, first["ETag"], {"priority": "low"}).status_code == 200


def test_a_tag_change_changes_the_etag(agent_api: Client, agent: Any, ticket: Ticket) -> None:
    url = f"/api/v1/tickets/{ticket.reference}/"
    etag = agent_api.get(url)["ETag"]
    services.ticket_tag_add(ticket=ticket, name="vip", actor=agent)
    assert patch(agent_api, ticket, etag, {"priority": "low"}).status_code == 412


def test_an_unchanged_ticket_answers_304_to_if_none_match(
    agent_api: Client, ticket: Ticket
) -> None:
    url = f"/api/v1/tickets/{ticket.reference}/"
    etag = agent_api.get(url)["ETag"]
    assert agent_api.get(url, headers={"if-none-match": etag}).status_code == 304


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_make_one_change_and_one_412(
    customer: Any, agent: Any, manager: Any, category: Any
) -> None:
    ticket = services.ticket_create(requester=customer, subject="Corrida", body="x")
    clients = [token_client(agent), token_client(manager)]
    etag = clients[0].get(f"/api/v1/tickets/{ticket.reference}/")["ETag"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def edit(client: Client, priority: str) -> None:
        try:
            barrier.wait()
            statuses.append(patch(client, ticket, etag, {"priority": priority}).status_code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=edit, args=(c, p))
        for c, p in zip(clients, ("high", "low"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]

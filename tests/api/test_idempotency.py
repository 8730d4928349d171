"""An Idempotency-Key makes a retried create return the first ticket."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.api.conftest import token_client
from tickets.models import Ticket

NEW = {"subject": "Rede caiu", "body": "Sem internet no andar 3."}


def create(client: Client, key: str) -> Any:
    return client.post(
        "/api/v1/tickets/", NEW, content_type="application/json", headers={"idempotency-key": key}
    )


def test_a_retried_create_makes_one_ticket(customer_api: Client) -> None:
    first = create(customer_api, "k-1")
    again = create(customer_api, "k-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.filter(subject=NEW["subject"]).count() == 1


def test_another_key_or_another_user_makes_another_ticket(
    customer_api: Client, other_customer: Any
) -> None:
    one = create(customer_api, "k-1").json()["reference"]
    two = create(customer_api, "k-2").json()["reference"]
    three = create(token_client(other_customer), "k-1").json()["reference"]
    assert len({one, two, three}) == 3


def test_without_a_key_each_post_is_a_ticket(customer_api: Client) -> None:
    for _ in range(2):
        customer_api.post("/api/v1/tickets/", NEW, content_type="application/json")
    assert Ticket.objects.filter(subject=NEW["subject"]).count() == 2


def test_the_same_key_with_another_body_is_refused(customer_api: Client) -> None:
    create(customer_api, "k-1")
    other = customer_api.post(
        "/api/v1/tickets/",
        {**NEW, "subject": "Outra coisa"},
        content_type="application/json",
        headers={"idempotency-key": "k-1"},
    )
    assert other.status_code == 422
    assert other.json()["detail"]
    assert Ticket.objects.count() == 1

"""The ticket resources: list, create, read, update, the thread."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.api.conftest import token_client
from tickets.models import Message, Ticket


def test_it_creates_a_ticket_and_answers_201_with_its_reference(
    customer_api: Client, customer: Any, category: Any
) -> None:
    response = customer_api.post(
        "/api/v1/tickets/",
        {"subject": "Sem acesso", "body": "Não consigo entrar.", "category": category.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get(reference=body["reference"])
    assert ticket.created_by == customer
    assert ticket.category == category
    assert response["Location"].endswith(f"/api/v1/tickets/{ticket.reference}/")
    assert response["ETag"]


def test_it_lists_only_the_customers_own_tickets(
    customer_api: Client, ticket: Ticket, other_customer: Any
) -> None:
    other = token_client(other_customer)
    assert [t["reference"] for t in customer_api.get("/api/v1/tickets/").json()["results"]] == [
        ticket.reference
    ]
    assert other.get("/api/v1/tickets/").json()["results"] == []
    assert other.get(f"/api/v1/tickets/{ticket.reference}/").status_code == 404


def test_it_filters_and_sorts_like_the_web_list(agent_api: Client, ticket: Ticket) -> None:
    assert agent_api.get("/api/v1/tickets/?status=closed").json()["results"] == []
    found = agent_api.get("/api/v1/tickets/?status=open&sort=-created").json()["results"]
    assert [t["reference"] for t in found] == [ticket.reference]
    assert agent_api.get("/api/v1/tickets/?q=impressora").json()["results"]


def test_it_pages_with_a_cursor(agent_api: Client, customer: Any) -> None:
    from tickets import services

    for n in range(3):
        services.ticket_create(requester=customer, subject=f"Pedido {n}", body="x")
    first = agent_api.get("/api/v1/tickets/?per_page=2&sort=created").json()
    assert len(first["results"]) == 2 and first["next"]
    second = agent_api.get(first["next"]).json()
    assert [t["subject"] for t in first["results"] + second["results"]] == [
        "Pedido 0",
        "Pedido 1",
        "Pedido 2",
    ]


def test_staff_update_goes_through_the_services(
    agent_api: Client, agent: Any, ticket: Ticket, team: Any
) -> None:
    response = agent_api.patch(
        f"/api/v1/tickets/{ticket.reference}/",
        {"status": "in_progress", "priority": "high", "assignee": agent.pk, "tags": ["vip"]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assigned_to) == ("in_progress", "high", agent)
    assert response.json()["tags"] == ["vip"]
    assert ticket.events.filter(kind="priority").exists()


def test_a_customer_cannot_change_the_priority(customer_api: Client, ticket: Ticket) -> None:
    response = customer_api.patch(
        f"/api/v1/tickets/{ticket.reference}/",
        {"priority": "urgent"},
        content_type="application/json",
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority != "urgent"


def test_a_move_the_workflow_refuses_is_a_409(
    agent_api: Client, agent: Any, ticket: Ticket
) -> None:
    from tickets import services

    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    response = agent_api.patch(
        f"/api/v1/tickets/{ticket.reference}/",
        {"status": "resolved"},
        content_type="application/json",
    )
    assert response.status_code == 409
    # In the agent's language (pt-BR), as the panel says it.
    assert response.json()["detail"] == "O ticket não pode passar de Fechado para Resolvido."


def test_a_customer_reopens_a_resolved_ticket(
    customer_api: Client, agent: Any, ticket: Ticket
) -> None:
    from tickets import services

    services.ticket_transition(ticket=ticket, to="resolved", actor=agent)
    response = customer_api.patch(
        f"/api/v1/tickets/{ticket.reference}/", {"status": "open"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "open"


def test_invalid_input_names_the_field_in_the_users_language(
    customer_api: Client, customer: Any
) -> None:
    customer.language = "pt-br"
    customer.save()
    response = customer_api.post(
        "/api/v1/tickets/", {"subject": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"subject", "body"}
    assert "Este campo" in errors["body"][0]


def test_staff_add_notes_and_customers_replies(
    agent_api: Client, customer_api: Client, ticket: Ticket
) -> None:
    url = f"/api/v1/tickets/{ticket.reference}/messages/"
    note = agent_api.post(url, {"body": "nota", "internal": True}, content_type="application/json")
    assert note.status_code == 201 and note.json()["internal"] is True
    refused = customer_api.post(
        url, {"body": "nota?", "internal": True}, content_type="application/json"
    )
    assert refused.status_code == 403
    reply = customer_api.post(url, {"body": "Obrigada"}, content_type="application/json")
    assert reply.status_code == 201
    seen = [m["body"] for m in customer_api.get(url).json()["results"]]
    assert "nota" not in seen and "Obrigada" in seen
    assert Message.objects.filter(ticket=ticket, kind="note").count() == 1


def test_an_unverified_sign_up_opens_no_ticket_as_on_the_web(
    customer_api: Client, customer: Any
) -> None:
    customer.email_verified = False
    customer.save()
    response = customer_api.post(
        "/api/v1/tickets/", {"subject": "s", "body": "b"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Ticket.objects.filter(subject="s").exists()


def test_staff_open_a_ticket_for_a_customer(agent_api: Client) -> None:
    response = agent_api.post(
        "/api/v1/tickets/",
        {"subject": "Por telefone", "body": "Ligou às 9h.", "requester_email": "Novo@Cliente.com"},
        content_type="application/json",
    )
    assert response.status_code == 201
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert ticket.created_by.email == "novo@cliente.com"


def test_the_users_list_is_for_staff(agent_api: Client, customer: Any, agent: Any) -> None:
    emails = [u["email"] for u in agent_api.get("/api/v1/users/?role=staff").json()["results"]]
    assert emails == [agent.email]

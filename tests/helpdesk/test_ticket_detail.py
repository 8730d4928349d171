from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tickets import services
from tickets.models import Message, Ticket, TicketEvent
from tickets.states import Status

pytestmark = pytest.mark.django_db


def test_it_shows_the_thread_with_notes_only_to_staff(
    full_ticket: Ticket, customer_client: Client, agent_client: Client
) -> None:
    url = f"/tickets/{full_ticket.reference}/"
    staff_page = agent_client.get(url).content.decode()
    assert "SECRET-NOTE" in staff_page and "internal.txt" in staff_page
    assert "thread-note" in staff_page
    customer_page = customer_client.get(url).content.decode()
    assert "Public answer" in customer_page and "manual.pdf" in customer_page
    assert "SECRET-NOTE" not in customer_page and "internal.txt" not in customer_page


def test_it_keeps_notes_out_of_every_customer_fragment(
    full_ticket: Ticket, customer_client: Client
) -> None:
    for path in ("thread/", ""):
        body = customer_client.get(
            f"/tickets/{full_ticket.reference}/{path}", HTTP_HX_REQUEST="true"
        ).content.decode()
        assert "SECRET-NOTE" not in body
    listing = customer_client.get(
        "/tickets/?q=SECRET-NOTE", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert full_ticket.reference not in listing


def test_it_orders_messages_and_events_in_time(
    full_ticket: Ticket, agent: Any, agent_client: Client
) -> None:
    services.ticket_transition(ticket=full_ticket, to=Status.IN_PROGRESS, actor=agent)
    services.ticket_reply_add(ticket=full_ticket, author=agent, body="LATER-REPLY")
    page = agent_client.get(f"/tickets/{full_ticket.reference}/").content.decode()
    assert (
        page.index("Public answer")
        < page.index("SECRET-NOTE")
        < page.index("mudou o status")
        < page.index("LATER-REPLY")
    )


def test_it_escapes_text_and_keeps_line_breaks(customer: Any, customer_client: Client) -> None:
    ticket = services.ticket_create(
        requester=customer, subject="<script>alert(1)</script>", body="line one\n<b>bold?</b>"
    )
    page = customer_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "line one<br>&lt;b&gt;bold?&lt;/b&gt;" in page


def test_it_shows_mail_html_in_a_sandboxed_frame_and_folds_quotes(
    ticket: Ticket, customer: Any, customer_client: Client
) -> None:
    services.ticket_reply_add(
        ticket=ticket,
        author=customer,
        body="plain",
        body_html='<p onclick="x()">Hi <b>there</b></p>',
        quoted="> old text",
    )
    page = customer_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in page
    assert "allow-scripts" not in page
    # The HTML only ever appears escaped inside srcdoc, never as live markup.
    assert 'srcdoc="&lt;p onclick=&quot;x()&quot;&gt;Hi &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;"' in page
    assert "<details" in page and "&gt; old text" in page


def test_a_customer_replies_to_their_ticket(ticket: Ticket, customer_client: Client) -> None:
    response = customer_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"body": "More details", "internal": "on", "set_status": "closed"},
    )
    assert response.status_code == 302
    message = ticket.messages.latest("created_at")
    # The customer's "internal" and "set_status" were not fields of their form.
    assert message.kind == Message.Kind.REPLY and message.body == "More details"
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_a_stranger_cannot_reply(ticket: Ticket, other_client: Client) -> None:
    count = Message.objects.count()
    assert (
        other_client.post(f"/tickets/{ticket.reference}/reply/", {"body": "hi"}).status_code == 404
    )
    assert Message.objects.count() == count


def test_an_agent_replies_and_sets_status(ticket: Ticket, agent_client: Client) -> None:
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/", {"body": "Fixed it", "set_status": "resolved"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.first_response_at is not None


def test_an_agent_adds_an_internal_note(ticket: Ticket, agent_client: Client) -> None:
    agent_client.post(
        f"/tickets/{ticket.reference}/reply/", {"body": "note text", "internal": "on"}
    )
    assert ticket.messages.latest("created_at").kind == Message.Kind.NOTE


def test_reply_with_illegal_status_shows_the_error(
    ticket: Ticket, agent: Any, agent_client: Client
) -> None:
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=agent)
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/", {"body": "x", "set_status": "resolved"}
    )
    assert response.status_code == 400
    assert "não pode passar de Fechado para Resolvido" in response.content.decode()


def test_reply_requires_a_body(ticket: Ticket, customer_client: Client) -> None:
    response = customer_client.post(f"/tickets/{ticket.reference}/reply/", {"body": ""})
    assert response.status_code == 400


def test_a_customer_cannot_reply_to_a_closed_ticket(
    ticket: Ticket, agent: Any, customer_client: Client
) -> None:
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=agent)
    count = ticket.messages.count()
    customer_client.post(f"/tickets/{ticket.reference}/reply/", {"body": "hello?"})
    assert ticket.messages.count() == count


def _props(ticket: Ticket, **changes: Any) -> dict[str, Any]:
    data = {
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category_id or "",
        "team": ticket.team_id or "",
        "assigned_to": ticket.assigned_to_id or "",
    }
    data.update(changes)
    return data


def test_staff_edit_properties_in_place(ticket: Ticket, agent: Any, agent_client: Client) -> None:
    url = f"/tickets/{ticket.reference}/properties/"
    response = agent_client.post(
        url,
        _props(ticket, status="in_progress", assigned_to=agent.pk, priority="urgent"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "ticketChanged"
    assert 'id="ticket-properties"' in response.content.decode()
    assert "<html" not in response.content.decode()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assigned_to_id) == (
        "in_progress",
        "urgent",
        agent.pk,
    )
    kinds = set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {"status", "priority", "assignee"} <= kinds


def test_property_edit_reports_an_illegal_transition(
    ticket: Ticket, agent: Any, agent_client: Client
) -> None:
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=agent)
    ticket.refresh_from_db()
    response = agent_client.post(
        f"/tickets/{ticket.reference}/properties/",
        _props(ticket, status="resolved", priority="low"),
        HTTP_HX_REQUEST="true",
    )
    assert "não pode passar de Fechado para Resolvido" in response.content.decode()
    ticket.refresh_from_db()
    # All or nothing: the priority change was rolled back with the status.
    assert ticket.status == Status.CLOSED and ticket.priority == "medium"


def test_property_edit_without_js_redirects(ticket: Ticket, agent_client: Client) -> None:
    response = agent_client.post(
        f"/tickets/{ticket.reference}/properties/", _props(ticket, priority="high")
    )
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.reference}/"


def test_transfer_to_another_team_and_agent(
    ticket: Ticket, agent_client: Client, manager: Any
) -> None:
    from tickets.models import Team

    other = Team.objects.create(name="Financeiro")
    agent_client.post(
        f"/tickets/{ticket.reference}/properties/",
        _props(ticket, team=other.pk, assigned_to=manager.pk),
    )
    ticket.refresh_from_db()
    assert ticket.team == other and ticket.assigned_to == manager


def test_customers_cannot_edit_properties(ticket: Ticket, customer_client: Client) -> None:
    response = customer_client.post(
        f"/tickets/{ticket.reference}/properties/", _props(ticket, priority="urgent")
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.priority == "medium"


def test_assigning_to_a_customer_is_refused(
    ticket: Ticket, customer: Any, agent_client: Client
) -> None:
    agent_client.post(
        f"/tickets/{ticket.reference}/properties/", _props(ticket, assigned_to=customer.pk)
    )
    ticket.refresh_from_db()
    assert ticket.assigned_to is None


def test_sidebar_lists_the_requesters_other_tickets(
    ticket: Ticket, customer: Any, agent_client: Client
) -> None:
    other = services.ticket_create(requester=customer, subject="Outro problema", body="...")
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert other.reference in page and customer.email in page


def test_lowercase_reference_finds_the_ticket(ticket: Ticket, customer_client: Client) -> None:
    assert customer_client.get(f"/tickets/{ticket.reference.lower()}/").status_code == 200


def test_guessed_reference_is_404(customer_client: Client) -> None:
    assert customer_client.get("/tickets/HD-2026-9999/").status_code == 404


def test_detail_page_queries_do_not_grow_with_the_thread(
    ticket: Ticket, agent: Any, agent_client: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        services.ticket_reply_add(
            ticket=ticket, author=agent, body=f"reply {i}", internal=bool(i % 2)
        )
    with django_assert_max_num_queries(25):
        assert agent_client.get(f"/tickets/{ticket.reference}/").status_code == 200

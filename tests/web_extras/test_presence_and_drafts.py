from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.accounts import user_create
from helpdesk.models import ReplyDraft, TicketPresence
from tests.conftest import PASSWORD
from tickets import services
from tickets.models import Ticket


def second_agent(db: Any) -> Any:
    return user_create(
        email="bruno@support.example", full_name="Bruno Barros", role="agent", password=PASSWORD
    )


def test_presence_shows_other_agents_with_their_state(
    client: Client, agent: Any, ticket: Ticket, login: Any
) -> None:
    bruno = second_agent(None)
    url = reverse("ticket_presence", args=[ticket.reference])
    other = Client()
    login(other, bruno)
    other.post(url, {"state": "replying"})
    page = login(client, agent).post(url, {"state": "viewing"}).content.decode()
    assert "Bruno is replying" in page or "Bruno está respondendo" in page
    assert "Ana" not in page  # never yourself
    # Bruno sees Ana viewing.
    assert 'data-presence-state="viewing"' in other.post(url, {"state": "x"}).content.decode()


def test_presence_forgets_stale_heartbeats(
    client: Client, agent: Any, ticket: Ticket, login: Any
) -> None:
    bruno = second_agent(None)
    TicketPresence.objects.create(
        ticket=ticket, user=bruno, seen_at=timezone.now() - timedelta(minutes=2)
    )
    page = login(client, agent).post(reverse("ticket_presence", args=[ticket.reference]))
    assert "Bruno" not in page.content.decode()
    assert not TicketPresence.objects.filter(user=bruno).exists()  # pruned in passing


def test_presence_leave(client: Client, agent: Any, ticket: Ticket, login: Any) -> None:
    login(client, agent)
    client.post(reverse("ticket_presence", args=[ticket.reference]))
    client.post(reverse("ticket_presence_leave", args=[ticket.reference]))
    assert not TicketPresence.objects.exists()


def test_customers_never_reach_presence_or_drafts(
    client: Client, agent: Any, ticket: Ticket, customer: Any, login: Any
) -> None:
    login(client, customer)
    for name in ("ticket_presence", "ticket_presence_leave", "ticket_draft"):
        assert client.post(reverse(name, args=[ticket.reference])).status_code == 404
    assert client.get(reverse("ticket_draft", args=[ticket.reference])).status_code == 404


def test_presence_needs_post(client: Client, agent: Any, ticket: Ticket, login: Any) -> None:
    login(client, agent)
    assert client.get(reverse("ticket_presence", args=[ticket.reference])).status_code == 405


def test_draft_is_saved_restored_and_cleared_on_send(
    client: Client, agent: Any, ticket: Ticket, login: Any
) -> None:
    login(client, agent)
    url = reverse("ticket_draft", args=[ticket.reference])
    assert client.post(url, {"kind": "reply", "body": "Olá Carla, "}).status_code == 204
    assert client.post(url, {"kind": "note", "body": "toner?"}).status_code == 204
    assert client.get(url).json() == {"reply": "Olá Carla, ", "note": "toner?"}
    # Another agent has their own drafts.
    other = login(Client(), second_agent(None))
    assert other.get(url).json() == {"reply": "", "note": ""}
    # Emptying the box removes the draft.
    client.post(url, {"kind": "note", "body": "  "})
    assert client.get(url).json() == {"reply": "Olá Carla, ", "note": ""}
    # Sending clears the sender's drafts on that ticket, in the same transaction.
    other.post(url, {"kind": "reply", "body": "Bruno's own"})
    services.ticket_reply_add(ticket=ticket, author=agent, body="Olá Carla, resolvido.")
    assert client.get(url).json() == {"reply": "", "note": ""}
    assert ReplyDraft.objects.count() == 1  # Bruno's draft stays


def test_draft_rejects_unknown_kind(client: Client, agent: Any, ticket: Ticket, login: Any) -> None:
    login(client, agent)
    url = reverse("ticket_draft", args=[ticket.reference])
    assert client.post(url, {"kind": "evil", "body": "x"}).status_code == 400


def test_draft_endpoint_enforces_csrf(agent: Any, ticket: Ticket, login: Any) -> None:
    client = login(Client(enforce_csrf_checks=True), agent)
    url = reverse("ticket_draft", args=[ticket.reference])
    assert client.post(url, {"kind": "reply", "body": "x"}).status_code == 403

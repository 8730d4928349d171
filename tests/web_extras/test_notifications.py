from datetime import UTC
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.accounts import user_create
from helpdesk.models import Notification
from helpdesk.notifications import mentioned_staff, unread_count
from tests.conftest import PASSWORD
from tickets import services
from tickets.models import Ticket
from tickets.states import Status

Kind = Notification.Kind


def kinds_for(user: Any) -> list[str]:
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_it_tells_the_team_about_a_new_ticket_but_not_the_requester(
    agent: Any, ticket: Ticket, customer: Any
) -> None:
    assert kinds_for(agent) == [Kind.NEW_TICKET]
    assert kinds_for(customer) == []


def test_it_never_notifies_the_actor(agent: Any, ticket: Ticket, customer: Any) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    services.ticket_reply_add(ticket=ticket, author=agent, body="Vou verificar.")
    assert kinds_for(agent) == [Kind.NEW_TICKET]  # only the one from ticket creation
    assert kinds_for(customer) == [Kind.REPLY]


def test_assignment_notifies_the_new_assignee(agent: Any, ticket: Ticket, manager: Any) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=manager)
    assert Kind.ASSIGNED in kinds_for(agent)
    assert kinds_for(manager) == []


def test_customer_reply_notifies_the_assignee(agent: Any, ticket: Ticket, customer: Any) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=None)
    Notification.objects.all().delete()
    services.ticket_reply_add(ticket=ticket, author=customer, body="Ainda não funciona.")
    assert kinds_for(agent) == [Kind.REPLY]
    assert kinds_for(customer) == []


def test_internal_notes_reach_staff_only(
    agent: Any, ticket: Ticket, manager: Any, customer: Any
) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=None)
    Notification.objects.all().delete()
    services.ticket_reply_add(
        ticket=ticket, author=manager, body="Verificar o toner", internal=True
    )
    assert kinds_for(agent) == [Kind.NOTE]
    assert kinds_for(customer) == []


def test_mentions_by_email_and_name_notify_staff_once(
    agent: Any, ticket: Ticket, manager: Any, customer: Any
) -> None:
    bea = user_create(email="bea@support.example", full_name="Beatriz Souza", role="agent")
    services.ticket_assign(ticket=ticket, assignee=agent, actor=None)
    Notification.objects.all().delete()
    services.ticket_reply_add(
        ticket=ticket,
        author=manager,
        body="@ana@support.example e @Beatriz, vejam isto. @carla@cliente.com.br",
        internal=True,
    )
    # The assignee was mentioned: one mention, not a note notification as well.
    assert kinds_for(agent) == [Kind.MENTION]
    assert kinds_for(bea) == [Kind.MENTION]
    assert kinds_for(customer) == []  # customers are never mentioned into notes


def test_a_name_mention_needs_a_word_boundary(agent: Any) -> None:
    assert mentioned_staff("@Anabela, veja") == []
    assert mentioned_staff("veja @ana.") == [agent]
    assert mentioned_staff("email ana@support.example sem arroba antes") == []


def test_status_changes_relevant_to_the_customer(agent: Any, ticket: Ticket, customer: Any) -> None:
    services.ticket_transition(ticket=ticket, to=Status.IN_PROGRESS, actor=agent)
    assert kinds_for(customer) == []
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    note = Notification.objects.get(recipient=customer)
    assert (note.kind, note.detail) == (Kind.STATUS, Status.RESOLVED)


def test_customer_reopen_tells_the_assignee(agent: Any, ticket: Ticket, customer: Any) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=None)
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    Notification.objects.all().delete()
    services.ticket_transition(ticket=ticket, to=Status.OPEN, actor=customer)
    assert kinds_for(agent) == [Kind.STATUS]


def test_quiet_messages_notify_nobody(agent: Any, ticket: Ticket, customer: Any) -> None:
    Notification.objects.all().delete()
    services.ticket_reply_add(ticket=ticket, author=customer, body="Auto-reply", is_quiet=True)
    assert Notification.objects.count() == 0


def test_restricted_agents_hear_only_about_tickets_they_may_see(
    agent: Any, ticket: Ticket, manager: Any, settings: Any
) -> None:
    settings.HELPDESK_AGENTS_SEE_ALL = False
    outsider = user_create(email="fora@support.example", full_name="Fora", role="agent")
    services.ticket_reply_add(
        ticket=ticket, author=manager, body="@fora@support.example @ana olhe", internal=True
    )
    assert kinds_for(outsider) == []
    assert Kind.MENTION in kinds_for(agent)  # a team member may see it


# --- Views --------------------------------------------------------------------


def login(client: Client, user: Any) -> Client:
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_bell_is_one_cheap_query(
    client: Client, agent: Any, ticket: Ticket, django_assert_max_num_queries: Any
) -> None:
    login(client, agent)
    with django_assert_max_num_queries(3):  # session, user, one COUNT
        response = client.get(reverse("notification_bell"))
    assert response.status_code == 200
    assert 'data-unread="1"' in response.content.decode()
    assert 'hx-trigger="every 20s, refresh"' in response.content.decode()


def test_bell_answers_204_when_signed_out(client: Client, db: Any) -> None:
    assert client.get(reverse("notification_bell")).status_code == 204


def test_list_shows_only_my_notifications_and_marks_read_on_post(
    client: Client, agent: Any, ticket: Ticket, customer: Any, manager: Any
) -> None:
    services.ticket_reply_add(ticket=ticket, author=agent, body="Resposta")
    login(client, customer)
    page = client.get(reverse("notification_list")).content.decode()
    assert ticket.reference in page
    mine = Notification.objects.get(recipient=customer)
    others = Notification.objects.exclude(recipient=customer).first()
    assert others is not None
    # Someone else's notification: 404, and GET never marks anything.
    assert client.post(reverse("notification_open", args=[others.pk])).status_code == 404
    assert client.get(reverse("notification_open", args=[mine.pk])).status_code == 405
    response = client.post(reverse("notification_open", args=[mine.pk]))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/tickets/{ticket.reference}/")
    assert unread_count(customer) == 0


def test_mark_all_read(client: Client, agent: Any, ticket: Ticket) -> None:
    login(client, agent)
    assert unread_count(agent) == 1
    response = client.post(reverse("notifications_read"), {"next": "https://evil.example/"})
    assert response["Location"] == "/notifications/"
    assert unread_count(agent) == 0


def test_opening_a_ticket_marks_its_notifications_read(
    client: Client, agent: Any, ticket: Ticket, other_customer: Any
) -> None:
    login(client, agent)
    response = client.post(reverse("ticket_notifications_seen", args=[ticket.reference]))
    assert 'hx-swap-oob="true"' in response.content.decode()
    assert unread_count(agent) == 0
    login(client, other_customer)
    url = reverse("ticket_notifications_seen", args=[ticket.reference])
    assert client.post(url).status_code == 404


def test_customer_never_sees_a_notification_about_a_ticket_not_theirs(
    agent: Any, ticket: Ticket, customer: Any, other_customer: Any
) -> None:
    # Even a stray row (written by hand) about someone else's ticket stays hidden.
    Notification.objects.create(recipient=other_customer, ticket=ticket, kind=Kind.REPLY)
    assert unread_count(other_customer) == 0


@pytest.mark.parametrize("lang,text", [("en", "Notifications"), ("pt-br", "Notificações")])
def test_list_is_translated(client: Client, agent: Any, lang: str, text: str) -> None:
    agent.language = lang
    agent.save()
    login(client, agent)
    assert text in client.get(reverse("notification_list")).content.decode()


def test_dates_show_in_the_users_time_zone(
    client: Client, agent: Any, ticket: Ticket, settings: Any
) -> None:
    from datetime import datetime

    Notification.objects.filter(recipient=agent).update(
        created_at=datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    )
    agent.language = "en"
    for zone, shown in (("America/Sao_Paulo", "12:30"), ("Asia/Tokyo", "00:30")):
        agent.time_zone = zone
        agent.save()
        login(client, agent)
        assert shown in client.get(reverse("notification_list")).content.decode(), zone


@pytest.mark.parametrize("rows", [1, 40])
def test_notification_list_queries_do_not_grow_with_rows(
    client: Client, agent: Any, ticket: Ticket, rows: int, django_assert_max_num_queries: Any
) -> None:
    Notification.objects.bulk_create(
        Notification(recipient=agent, ticket=ticket, kind=Kind.REPLY, actor=agent)
        for _ in range(rows)
    )
    login(client, agent)
    # session, user, the nav bell's count, the page header's unread count,
    # the paginator's count and the page itself (with ticket and actor joined).
    with django_assert_max_num_queries(6):
        response = client.get(reverse("notification_list"))
    assert response.status_code == 200


def test_customers_cannot_mention_agents(agent: Any, ticket: Ticket, customer: Any) -> None:
    Notification.objects.all().delete()
    services.ticket_reply_add(ticket=ticket, author=customer, body="@Ana, me responde logo!")
    assert kinds_for(agent) == [Kind.REPLY]  # the team hears of the reply, not a mention


def test_a_status_notification_names_the_status_it_announced(
    client: Client, agent: Any, ticket: Ticket, customer: Any
) -> None:
    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    services.ticket_transition(ticket=ticket, to=Status.CLOSED, actor=customer)
    customer.language = "en"
    customer.save()
    login(client, customer)
    page = client.get(reverse("notification_list")).content.decode()
    assert ": Resolved" in page and ": Closed" not in page

"""The agent's desk: who and when at a glance, one-click "take it",
availability, and a status select that offers only the allowed moves."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from helpdesk.accounts import user_create
from helpdesk.models import SatisfactionRating
from helpdesk.roles import Role
from mailgateway.ingest import ingest_raw_email
from outbound.mails import build_email
from outbound.models import OutboxItem
from outbound.webhooks import slack_text, ticket_payload
from tests.conftest import PASSWORD
from tests.helpdesk.conftest import client_for
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Message, Team, Ticket, TicketEvent
from tickets.services import NewAttachment


def english(user: Any) -> Client:
    user.language = "en"
    user.save(update_fields=["language"])
    client = client_for(user)
    client.cookies["django_language"] = "en"
    return client


def status_options(html: str) -> list[str]:
    select = re.search(r'<select name="status".*?</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option value="(\w+)"', select.group(0))


def test_the_status_select_offers_only_the_allowed_moves(ticket: Ticket, agent: Any) -> None:
    client = client_for(agent)
    assert status_options(client.get(ticket.get_absolute_url()).content.decode()) == [
        "open",
        "in_progress",
        "waiting_customer",
        "resolved",
        "closed",
    ]
    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    html = client.get(ticket.get_absolute_url()).content.decode()
    assert status_options(html) == ["closed", "open"]


def test_take_it_assigns_the_ticket_to_me_and_the_thread_names_people(
    ticket: Ticket, agent: Any, team: Any
) -> None:
    marcia = user_create(email="marcia@support.example", full_name="Márcia Mendes", role=Role.AGENT)
    team.members.add(marcia)
    client = english(agent)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert 'id="ticket-take"' in page

    response = client.post(f"/tickets/{ticket.reference}/take/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "ticketChanged"
    ticket.refresh_from_db()
    assert ticket.assigned_to == agent
    assert 'id="ticket-take"' not in response.content.decode()  # it is mine now

    services.ticket_assign(ticket=ticket, assignee=marcia, actor=agent)
    thread = client.get(f"/tickets/{ticket.reference}/thread/").content.decode()
    assert "Ana Agente\n      took the ticket" in thread
    assert "assigned the ticket to Márcia Mendes" in thread
    assert marcia.email not in thread and agent.email not in thread


def test_take_it_without_javascript_redirects_back(ticket: Ticket, agent: Any) -> None:
    response = client_for(agent).post(f"/tickets/{ticket.reference}/take/")
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    ticket.refresh_from_db()
    assert ticket.assigned_to == agent


def test_customers_cannot_take_tickets(ticket: Ticket, customer: Any) -> None:
    response = client_for(customer).post(f"/tickets/{ticket.reference}/take/")
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.assigned_to is None


def test_an_agent_sets_themselves_away_and_back(agent: Any) -> None:
    client = english(agent)
    assert "Set me away" in client.get("/tickets/").content.decode()
    response = client.post("/availability/", {"available": "0", "next": "/tickets/"})
    assert response.status_code == 302 and response["Location"] == "/tickets/"
    agent.refresh_from_db()
    assert not agent.is_available
    assert "Set me available" in client.get("/tickets/").content.decode()
    client.post("/availability/", {"available": "1", "next": "https://evil.example/"})
    agent.refresh_from_db()
    assert agent.is_available


def test_the_list_shows_the_requester_and_since_when_the_customer_waits(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    client = english(agent)
    html = client.get("/tickets/").content.decode()
    cell = re.search(r'<td class="d-none d-xl-table-cell requester-cell">(.*?)</td>', html, re.S)
    assert cell is not None  # shown from 1200 px on, so at 1280 px
    assert "Carla Cliente" in cell.group(1) and customer.email in cell.group(1)
    assert "customer waiting for" in html

    Message.objects.filter(ticket=ticket).update(created_at=timezone.now() - timedelta(hours=3))
    html = client.get("/tickets/").content.decode()
    assert "customer waiting for 3\xa0hours" in html

    services.ticket_reply_add(ticket=ticket, author=agent, body="Reinicie, por favor.")
    assert "customer waiting for" not in client.get("/tickets/").content.decode()
    services.ticket_reply_add(ticket=ticket, author=customer, body="Não resolveu.")
    assert "customer waiting for" in client.get("/tickets/").content.decode()


def test_customers_do_not_see_the_waiting_line(ticket: Ticket, customer: Any) -> None:
    html = english(customer).get("/tickets/").content.decode()
    assert ticket.reference in html and "customer waiting" not in html


def test_a_customers_reopen_by_mail_is_theirs(
    ticket: Ticket, agent: Any, customer: Any, settings: Any, tmp_path: Any
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    raw = make_mail(
        sender=f"Carla Cliente <{customer.email}>",
        subject=f"Re: [{ticket.reference}] {ticket.subject}",
        body="Voltou a falhar.",
    )
    assert ingest_raw_email(raw, door="pipe").reference == ticket.reference
    reopen = TicketEvent.objects.filter(ticket=ticket, kind="status").latest("id")
    assert (reopen.new_value, reopen.actor) == ("open", customer)


def test_managers_reach_the_reports_from_the_navigation(manager: Any, agent: Any) -> None:
    assert 'href="/reports/"' in english(manager).get("/").content.decode()
    assert 'href="/reports/"' not in english(agent).get("/").content.decode()


def test_a_customer_cannot_toggle_availability(customer: Any) -> None:
    client = Client()
    client.login(email=customer.email, password=PASSWORD)
    assert client.post("/availability/", {"available": "0"}).status_code == 404


# One act, one mail; and what each mail carries.


def mails_to(email: str, ticket: Ticket) -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(recipient=email, ticket=ticket).order_by("id"))


def test_a_customers_reply_that_reopens_sends_the_agent_one_mail(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    agent.language = "en"
    agent.save(update_fields=["language"])
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    services.ticket_transition(ticket=ticket, to="resolved", actor=agent)
    before = len(mails_to(agent.email, ticket))
    services.ticket_reply_add(ticket=ticket, author=customer, body="Voltou a falhar.")
    ticket.refresh_from_db()
    assert ticket.status == "open"
    new = mails_to(agent.email, ticket)[before:]
    assert [i.event for i in new] == ["customer_reply"]
    mail = build_email(new[0].payload)
    assert "The reply reopened the ticket" in mail.body and "Voltou a falhar." in mail.body


def test_a_customer_who_rated_is_not_asked_again(ticket: Ticket, agent: Any, customer: Any) -> None:
    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    [first] = [i for i in mails_to(customer.email, ticket) if i.event == "ticket_closed"]
    assert build_email(first.payload).body.count("/feedback/") == 2  # rate, reopen
    SatisfactionRating.objects.create(ticket=ticket, user=customer, score=5)
    services.ticket_transition(ticket=ticket, to="open", actor=agent)
    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    second = [i for i in mails_to(customer.email, ticket) if i.event == "ticket_closed"][-1]
    built = build_email(second.payload)
    assert built.body.count("/feedback/") == 1  # reopen only
    assert "Como foi" not in built.body and ticket.reference in built.body
    assert "Como foi" not in built.alternatives[0][0]


def test_the_new_ticket_notice_carries_the_customers_files(
    customer: Any, agent: Any, category: Any
) -> None:
    ticket = services.ticket_create(
        requester=customer,
        subject="Nota fiscal",
        body="Segue a nota.",
        category=category,
        attachments=[
            NewAttachment(name="nota.pdf", content_type="application/pdf", content=b"%PDF")
        ],
    )
    [notice] = [i for i in mails_to(agent.email, ticket) if i.event == "new_ticket"]
    assert [name for name, _c, _t in build_email(notice.payload).attachments] == ["nota.pdf"]


def test_slack_assignment_posts_name_the_assignee(ticket: Ticket, agent: Any) -> None:
    data = ticket_payload(ticket, "ticket.assigned", new=agent.email, actor=agent)
    data["assignee"] = {"name": "Ana Agente", "email": agent.email}
    assert "Ana Agente" in slack_text(data)


def test_customers_see_no_requester_card_of_themselves_nor_saved_views(
    ticket: Ticket, customer: Any, agent: Any
) -> None:
    services.ticket_cc_add(ticket=ticket, email="chefe@cliente.com.br", name="Chefe")
    page = english(customer).get(ticket.get_absolute_url()).content.decode()
    assert 'id="people-h"' not in page and "chefe@cliente.com.br" in page
    assert "order-first order-lg-0" in page  # status and "Was this solved?" first on a phone
    assert 'id="views-h"' not in english(customer).get("/tickets/").content.decode()
    staff_page = english(agent).get(ticket.get_absolute_url()).content.decode()
    assert 'id="people-h"' in staff_page and "order-first" not in staff_page
    assert 'id="views-h"' in english(agent).get("/tickets/").content.decode()


def test_an_agent_transfers_a_ticket_with_a_reason_from_the_page(
    ticket: Ticket, agent: Any
) -> None:
    finance = Team.objects.create(name="Financeiro")
    client = english(agent)
    assert 'id="transfer-h"' in client.get(ticket.get_absolute_url()).content.decode()
    empty = client.post(f"/tickets/{ticket.reference}/transfer/", {"transfer-reason": "x"})
    assert empty.status_code == 400 and "Choose an agent or a team." in empty.content.decode()
    response = client.post(
        f"/tickets/{ticket.reference}/transfer/",
        {"transfer-team": finance.pk, "transfer-reason": "Cobrança"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.team == finance
    assert "Cobrança" in client.get(f"/tickets/{ticket.reference}/thread/").content.decode()


def test_bulk_actions_move_tickets_to_a_team(ticket: Ticket, agent: Any) -> None:
    finance = Team.objects.create(name="Financeiro")
    response = client_for(agent).post(
        "/tickets/bulk/", {"action": "team", "team": finance.pk, "tickets": [ticket.reference]}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.team == finance


# The live page.


def live_url(html: str) -> str:
    found = re.search(r'id="ticket-live" hidden hx-get="([^"]+)"', html)
    assert found is not None
    return found.group(1).replace("&amp;", "&")


def test_an_open_ticket_page_learns_of_changes_without_a_reload(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    client = english(agent)
    url = live_url(client.get(ticket.get_absolute_url()).content.decode())
    assert client.get(url).status_code == 204  # nothing new: no swap, no work

    services.ticket_reply_add(ticket=ticket, author=customer, body="Alguma novidade?")
    changed = client.get(url)
    assert changed.status_code == 200 and changed["HX-Trigger"] == "ticketRefresh"
    assert client.get(live_url(changed.content.decode())).status_code == 204  # the new version
    thread = client.get(f"/tickets/{ticket.reference}/thread/").content.decode()
    assert "Alguma novidade?" in thread


def test_in_place_edits_bring_the_badges_and_the_poller_along(ticket: Ticket, agent: Any) -> None:
    client = english(agent)
    data = {
        "status": "in_progress",
        "priority": "urgent",
        "category": "",
        "team": "",
        "assigned_to": "",
    }
    data["category"] = str(ticket.category_id)
    data["team"] = str(ticket.team_id)
    response = client.post(f"/tickets/{ticket.reference}/properties/", data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert (
        'id="ticket-badges" class="d-flex flex-wrap gap-2 align-items-center small" hx-swap-oob'
        in html
    )
    assert "Urgent" in html and "In progress" in html
    assert client.get(live_url(html)).status_code == 204  # my own edit is not news to me


def test_a_reply_written_before_the_customers_newer_message_asks_first(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    client = english(agent)
    page = client.get(ticket.get_absolute_url()).content.decode()
    seen = re.search(r'name="seen" value="(\d+)"', page)
    assert seen is not None
    services.ticket_reply_add(ticket=ticket, author=customer, body="Esqueci de dizer: é a HP.")
    post = {"body": "Reinicie a impressora.", "seen": seen.group(1)}
    stopped = client.post(f"/tickets/{ticket.reference}/reply/", post)
    html = stopped.content.decode()
    assert stopped.status_code == 409 and "The customer wrote again" in html
    assert 'name="send_anyway" value="1"' in html and "Reinicie a impressora." in html
    assert not ticket.messages.filter(body="Reinicie a impressora.").exists()
    sent = client.post(f"/tickets/{ticket.reference}/reply/", {**post, "send_anyway": "1"})
    assert sent.status_code == 302
    assert ticket.messages.filter(body="Reinicie a impressora.").exists()


def test_the_reply_boxs_status_offers_only_the_allowed_moves(ticket: Ticket, agent: Any) -> None:
    services.ticket_transition(ticket=ticket, to="resolved", actor=agent)
    html = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    select = re.search(r'<select name="set_status".*?</select>', html, re.S)
    assert select is not None
    assert re.findall(r'<option value="(\w*)"', select.group(0)) == [
        "",
        "open",
        "in_progress",
        "closed",
    ]


def test_a_customers_page_is_not_refreshed_by_staff_only_changes(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    client = english(customer)
    url = live_url(client.get(ticket.get_absolute_url()).content.decode())
    services.ticket_reply_add(ticket=ticket, author=agent, body="Nota só da equipe", internal=True)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    assert client.get(url).status_code == 204  # nothing they can see changed
    services.ticket_reply_add(ticket=ticket, author=agent, body="Resposta pública")
    refreshed = client.get(url)
    assert refreshed.status_code == 200 and refreshed["HX-Trigger"] == "ticketRefresh"

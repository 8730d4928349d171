"""Routing rules in order, the default team, and per-team assignment:
round-robin, fewest active tickets, manual, nobody available, concurrency."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest
from django.db import connections

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from mailgateway.ingest import ingest_raw_email
from outbound.models import OutboxItem
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Category, RoutingRule, Team, Ticket
from tickets.routing import Arrival, route, routed_by_label


@pytest.fixture
def teams(db: Any) -> dict[str, Team]:
    return {name: Team.objects.create(name=name) for name in ("Suporte", "Financeiro", "Vendas")}


def rule(position: int, match: str, value: str, team: Team | None, **extra: Any) -> RoutingRule:
    return RoutingRule.objects.create(
        name=f"{match} {value}", position=position, match=match, value=value, team=team, **extra
    )


def agents(team: Team, count: int, *, unavailable: int = 0) -> list[Any]:
    made = []
    for i in range(count):
        user = user_create(
            email=f"agente{i}.{team.pk}@support.example",
            full_name=f"Agente {i}",
            role=Role.AGENT,
        )
        if i < unavailable:
            user.is_available = False
            user.save(update_fields=["is_available"])
        team.members.add(user)
        made.append(user)
    return made


def test_rules_are_tried_in_order_and_the_first_match_wins(teams: dict[str, Team]) -> None:
    billing = Category.objects.create(name="Cobrança")
    rule(1, "sender_domain", "banco.com.br", teams["Financeiro"], priority="high")
    rule(2, "subject", "nota fiscal", teams["Financeiro"], category=billing)
    rule(3, "address", "vendas@*", teams["Vendas"])
    rule(4, "subject", "boleto", teams["Vendas"])  # after the domain rule: never reached first
    rule(0, "mailbox", "VIP", teams["Suporte"], is_active=False)  # inactive: skipped

    by_domain = route(Arrival(sender="ana@filial.banco.com.br", subject="Boleto"))
    assert (by_domain.team, by_domain.priority) == (teams["Financeiro"], "high")
    assert routed_by_label(by_domain.by) == "regra “sender_domain banco.com.br”"

    by_phrase = route(Arrival(sender="x@y.com", subject="Re: Nota Fiscal de março"))
    assert (by_phrase.team, by_phrase.category) == (teams["Financeiro"], billing)
    assert route(Arrival(sender="x@y.com", subject="notas fiscais")).team is None  # words only

    by_address = route(Arrival(addresses=("vendas@empresa.com.br",), subject="Boleto"))
    assert by_address.team == teams["Vendas"] and by_address.by == "rule:address vendas@*"
    assert route(Arrival(mailbox="vip", subject="oi")).team is None


def test_what_no_rule_routes_goes_to_the_category_team_or_the_default_team(
    teams: dict[str, Team], settings: Any
) -> None:
    settings.HELPDESK_DEFAULT_TEAM = "Suporte"
    category = Category.objects.create(name="Acesso", default_team=teams["Vendas"])
    assert route(Arrival(category=category)).team == teams["Vendas"]
    assert route(Arrival(category=category)).by == "category"
    fallback = route(Arrival(sender="a@b.com", subject="oi"))
    assert (fallback.team, fallback.by) == (teams["Suporte"], "default")
    settings.HELPDESK_DEFAULT_TEAM = ""
    assert route(Arrival(sender="a@b.com")).team is None


def test_a_mail_lands_in_its_teams_queue_and_is_assigned_round_robin(
    teams: dict[str, Team], settings: Any, tmp_path: Any
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = ["financeiro@example.com"]
    finance = teams["Financeiro"]
    finance.assignment = Team.Assignment.ROUND_ROBIN
    finance.save()
    first, second = agents(finance, 2)
    rule(1, "address", "financeiro@example.com", finance)

    refs = []
    for n in range(3):
        raw = make_mail(to="financeiro@example.com", subject=f"Fatura {n}", body="Olá")
        refs.append(ingest_raw_email(raw, door="pipe").reference)
    tickets = [Ticket.objects.get(reference=r) for r in refs]
    assert [t.team for t in tickets] == [finance] * 3
    assert [t.assigned_to for t in tickets] == [first, second, first]
    assert tickets[0].routed_by == "rule:address financeiro@example.com"
    # The notice goes to the assignee only, once: no "assigned" mail on top.
    notices = OutboxItem.objects.filter(ticket=tickets[0]).exclude(recipient="carla@cliente.com.br")
    assert [(i.event, i.recipient) for i in notices] == [("new_ticket", first.email)]


def test_round_robin_over_100_tickets_shares_fairly_among_available_agents(
    teams: dict[str, Team], customer: Any
) -> None:
    team = teams["Suporte"]
    team.assignment = Team.Assignment.ROUND_ROBIN
    team.save()
    away, *available = agents(team, 3, unavailable=1)
    for n in range(100):
        services.ticket_create(requester=customer, subject=f"Pedido {n}", body="x", team=team)
    load = Counter(Ticket.objects.values_list("assigned_to", flat=True))
    assert load[away.pk] == 0
    assert all(abs(load[a.pk] - 50) <= 1 for a in available), load


def test_least_open_gives_the_ticket_to_the_agent_with_the_fewest_active(
    teams: dict[str, Team], customer: Any
) -> None:
    team = teams["Suporte"]
    busy, free = agents(team, 2)
    for n in range(3):  # manual: these wait, then go to the busy one by hand
        ticket = services.ticket_create(requester=customer, subject=f"a{n}", body="x", team=team)
        assert ticket.assigned_to is None
        services.ticket_assign(ticket=ticket, assignee=busy, actor=busy)
    team.assignment = Team.Assignment.LEAST_OPEN
    team.save()
    got = [
        services.ticket_create(requester=customer, subject=f"b{n}", body="x", team=team).assigned_to
        for n in range(4)
    ]
    assert got == [free, free, free, busy]  # 3:0, 3:1, 3:2, then 3:3 goes by rotation


def test_when_nobody_is_available_the_ticket_waits_and_the_team_is_told_once(
    teams: dict[str, Team], customer: Any
) -> None:
    team = teams["Suporte"]
    team.assignment = Team.Assignment.ROUND_ROBIN
    team.save()
    members = agents(team, 2, unavailable=2)
    ticket = services.ticket_create(requester=customer, subject="Urgente", body="x", team=team)
    assert ticket.assigned_to is None and ticket.team == team
    told = OutboxItem.objects.filter(ticket=ticket, event="new_ticket")
    assert sorted(i.recipient for i in told) == sorted(m.email for m in members)


def _open_tickets(team_id: int, requester_id: int, count: int, label: str) -> None:
    import django

    django.setup()
    from helpdesk.models import User

    requester = User.objects.get(pk=requester_id)
    team = Team.objects.get(pk=team_id)
    for n in range(count):
        services.ticket_create(requester=requester, subject=f"{label}-{n}", body="x", team=team)
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_four_processes_assigning_at_once_never_double_assign(customer: Any) -> None:
    team = Team.objects.create(name="Plantão", assignment=Team.Assignment.ROUND_ROBIN)
    first, second = agents(team, 2)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_open_tickets, args=(team.pk, customer.pk, 25, f"p{i}"))
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    load = Counter(Ticket.objects.values_list("assigned_to", flat=True))
    # Serialised on the team's row: strict alternation, so exactly half each.
    assert load == {first.pk: 50, second.pk: 50}
    team.refresh_from_db()
    last = Ticket.objects.order_by("-id").first()
    assert last is not None and team.rotation_cursor == last.assigned_to_id


def test_a_transfer_with_a_reason_tells_the_new_owner_once(
    teams: dict[str, Team], customer: Any
) -> None:
    support, finance = teams["Suporte"], teams["Financeiro"]
    [ana] = agents(support, 1)
    [bia] = agents(finance, 1)
    finance.assignment = Team.Assignment.ROUND_ROBIN
    finance.save()
    ticket = services.ticket_create(requester=customer, subject="Fatura", body="x", team=support)
    services.ticket_assign(ticket=ticket, assignee=ana, actor=ana)
    before = OutboxItem.objects.filter(recipient=bia.email).count()

    services.ticket_transfer(ticket=ticket, team=finance, reason="Cobrança em dobro", actor=ana)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.assigned_to) == (finance, bia)  # the team's rotation picked her
    [notice] = OutboxItem.objects.filter(recipient=bia.email)[before:]
    assert notice.event == "assigned" and notice.payload["reason"] == "Cobrança em dobro"
    note = ticket.messages.latest("id")
    assert note.kind == "note" and note.is_quiet and "Cobrança em dobro" in note.body

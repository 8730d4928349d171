"""Ninety days of made-up helpdesk life for `seed_demo --history`, so a fresh
install shows living reports: a few hundred tickets by web and by mail,
assignments, replies, resolutions, confirmations, ratings, some reopened
and some answered too late for their SLA.

Every change goes through tickets.services (and helpdesk.resolution) as it
would have happened, with the clock set back to its moment, so audit rows,
SLA due times and business-hour durations are the real ones. Subscribers are
muted while it runs: made-up history sends no mail and rings no bell.
Idempotent: the history's customers exist once history was seeded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar
from unittest import mock

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from helpdesk import resolution
from helpdesk.accounts import user_create
from helpdesk.models import User
from helpdesk.roles import Role
from tickets import events, services
from tickets.models import Category, Source, Team, Ticket
from tickets.states import Priority, Status

T = TypeVar("T")
DAYS = 90
MARKER_DOMAIN = "cliente-demo.example"

CUSTOMERS = [
    "Joana Prado",
    "Marcos Vieira",
    "Luiza Campos",
    "Rafael Moura",
    "Patrícia Lima",
    "Otávio Rocha",
    "Helena Duarte",
    "Caio Ribeiro",
    "Sofia Martins",
    "Diego Almeida",
    "Beatriz Nunes",
    "Tiago Freitas",
    "Camila Souza",
    "Bruno Teixeira",
    "Larissa Gomes",
    "Eduardo Pires",
    "Marina Costa",
    "Felipe Araújo",
    "Renata Barros",
    "Gustavo Melo",
]
AGENTS = [
    ("bruna@example.com", "Bruna Bastos"),
    ("diego@example.com", "Diego Dias"),
    ("fernanda@example.com", "Fernanda Farias"),
]
SUBJECTS = {
    "Problemas técnicos": [
        "Impressora da recepção não imprime",
        "Sistema fica lento depois das 14h",
        "Não consigo acessar o portal",
        "Erro ao gerar relatório mensal",
        "VPN cai a cada poucos minutos",
        "Notebook novo sem acesso à rede",
        "Aplicativo fecha sozinho no celular",
    ],
    "Dúvidas": [
        "Como cadastrar um novo usuário?",
        "Onde encontro o histórico de pedidos?",
        "Dúvida sobre o limite de anexos",
        "Como exportar a planilha de clientes?",
        "Posso trocar o e-mail de acesso?",
    ],
    "Financeiro": [
        "Boleto veio com valor em dobro",
        "Segunda via da nota fiscal",
        "Cobrança após o cancelamento",
        "Reembolso do pedido ainda não caiu",
        "Alterar a forma de pagamento",
    ],
}
ANY_SUBJECT = [subject for group in SUBJECTS.values() for subject in group]
AGENT_REPLIES = [
    "Olá! Obrigado pelo contato. Já estamos verificando e retorno em seguida.",
    "Bom dia! Consegue enviar um print da tela com o erro, por favor?",
    "Identificamos a causa e aplicamos a correção. Pode testar novamente?",
    "Fizemos o ajuste no cadastro; qualquer coisa, é só responder este e-mail.",
]
CUSTOMER_REPLIES = [
    "Segue o print. Obrigada!",
    "Testei agora e funcionou, obrigado!",
    "Ainda está acontecendo, infelizmente.",
    "Perfeito, muito obrigado pela ajuda.",
]
SLA_DEFAULTS = {  # business minutes: first response, resolution
    Priority.URGENT: (60, 8 * 60),
    Priority.HIGH: (4 * 60, 16 * 60),
    Priority.MEDIUM: (8 * 60, 40 * 60),
    Priority.LOW: (16 * 60, 80 * 60),
}


def already_seeded() -> bool:
    return User.objects.filter(email__endswith="@" + MARKER_DOMAIN).exists()


@contextmanager
def _muted() -> Iterator[None]:
    """No subscriber (mail, webhooks, in-app notices) hears made-up history."""
    with mock.patch.object(events, "_subscribers", []):
        yield


class _Clock:
    """timezone.now() at the moment being replayed; never past the real now."""

    def __init__(self) -> None:
        self.real_now = timezone.now()

    def at(self, moment: datetime, action: Callable[[], T]) -> T | None:
        if moment >= self.real_now:
            return None  # this step has not happened yet
        with mock.patch("django.utils.timezone.now", return_value=moment):
            return action()


def _sla_policies() -> None:
    """Demo SLA targets, when the SLA module is there and none are set up."""
    try:
        policy = apps.get_model("tickets", "SLAPolicy")
    except LookupError:
        return
    if policy.objects.exists():
        return
    for priority, (respond, resolve) in SLA_DEFAULTS.items():
        policy.objects.create(
            priority=priority, first_response_minutes=respond, resolution_minutes=resolve
        )


def _people() -> tuple[list[User], dict[int | None, list[User]]]:
    customers = [
        user_create(
            email=f"{name.split()[0].lower()}.{name.split()[1].lower()}@{MARKER_DOMAIN}",
            full_name=name,
            role=Role.CUSTOMER,
        )
        for name in CUSTOMERS
    ]
    teams = list(Team.objects.all())
    for index, (email, name) in enumerate(AGENTS):
        agent = User.objects.filter(email=email).first() or user_create(
            email=email, full_name=name, role=Role.AGENT
        )
        if teams:
            agent.teams.add(teams[index % len(teams)])
    staff = list(User.objects.filter(role__in=[Role.AGENT, Role.MANAGER], is_active=True))
    by_team: dict[int | None, list[User]] = {None: staff}
    for team in teams:
        by_team[team.pk] = list(team.members.filter(role__in=[Role.AGENT, Role.MANAGER])) or staff
    return customers, by_team


def _hours(rng: random.Random, median: float, spread: float = 1.0) -> timedelta:
    return timedelta(hours=median * rng.lognormvariate(0, spread))


def _one_ticket(
    rng: random.Random,
    clock: _Clock,
    opened: datetime,
    customer: User,
    category: Category | None,
    agents: dict[int | None, list[User]],
) -> None:
    subjects = SUBJECTS.get(category.name if category else "") or ANY_SUBJECT
    source = rng.choices([Source.EMAIL, Source.WEB, Source.API], [55, 40, 5])[0]
    priority = rng.choices(list(SLA_DEFAULTS), [5, 20, 55, 20])[0]
    ticket = clock.at(
        opened,
        lambda: services.ticket_create(
            requester=customer,
            subject=rng.choice(subjects),
            body="Olá, podem me ajudar com isso, por favor? Obrigado!",
            source=source,
            category=category,
            priority=priority,
        ),
    )
    if ticket is None:
        return
    team_agents = agents.get(ticket.team_id) or agents[None]
    agent = rng.choice(team_agents)
    when = opened + timedelta(minutes=rng.randint(2, 40))
    if ticket.assigned_to_id is None:
        clock.at(when, lambda: services.ticket_assign(ticket=ticket, assignee=agent, actor=agent))
    else:
        agent = User.objects.get(pk=ticket.assigned_to_id)
    # One in eight first answers is slow: those are the SLA breaches.
    late = rng.random() < 0.12
    when += _hours(rng, 14 if late else 1.2)
    answer = rng.choice(AGENT_REPLIES)
    status = rng.choices([None, Status.IN_PROGRESS, Status.WAITING_CUSTOMER], [3, 5, 2])[0]
    replied = clock.at(
        when,
        lambda: services.ticket_reply_add(
            ticket=ticket, author=agent, body=answer, set_status=status
        ),
    )
    if replied is None:
        return
    if rng.random() < 0.35:
        when += _hours(rng, 3)
        clock.at(
            when,
            lambda: services.ticket_reply_add(
                ticket=ticket, author=customer, body=rng.choice(CUSTOMER_REPLIES)
            ),
        )
    if rng.random() < 0.1:
        return  # still being worked on
    when += _hours(rng, 20 if late else 6, 0.8)
    rounds = 2 if rng.random() < 0.07 else 1  # a few come back after the fix
    for round_number in range(rounds):
        resolved = clock.at(
            when,
            lambda: services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent),
        )
        if resolved is None:
            return
        when += _hours(rng, 10)
        if round_number < rounds - 1:
            clock.at(
                when,
                lambda: resolution.resolution_reopen(
                    ticket=ticket, user=customer, comment="O problema voltou hoje de manhã."
                ),
            )
            when += _hours(rng, 5)
    if rng.random() < 0.7:
        ticket.refresh_from_db()
        confirmed = clock.at(
            when, lambda: resolution.resolution_confirm(ticket=ticket, user=customer)
        )
        if confirmed is not None and rng.random() < 0.6:
            score = rng.choices([5, 4, 3, 2, 1], [50, 30, 10, 6, 4])[0]
            clock.at(
                when + timedelta(minutes=rng.randint(1, 120)),
                lambda: resolution.rating_submit(ticket=ticket, user=customer, score=score),
            )


def seed_history(*, days: int = DAYS, seed: int = 2026) -> int:
    """Replay `days` of tickets; returns how many (0 when already seeded)."""
    if already_seeded():
        return 0
    rng = random.Random(seed)
    clock = _Clock()
    categories: list[Category | None] = [*Category.objects.filter(is_active=True), None]
    with transaction.atomic(), _muted():
        _sla_policies()
        customers, agents = _people()
        start = timezone.localtime(clock.real_now) - timedelta(days=days)
        for offset in range(days):
            day = (start + timedelta(days=offset + 1)).replace(hour=0, minute=0, second=0)
            weekend = day.weekday() >= 5
            # Busier lately: the desk is growing.
            count = rng.randint(0, 2) if weekend else rng.randint(2, 4) + offset // 45
            for _ in range(count):
                opened = day + timedelta(hours=rng.uniform(8, 19))
                _one_ticket(
                    rng,
                    clock,
                    opened,
                    rng.choice(customers),
                    rng.choices(categories, [5] * (len(categories) - 1) + [1])[0],
                    agents,
                )
    return Ticket.objects.filter(created_by__email__endswith="@" + MARKER_DOMAIN).count()

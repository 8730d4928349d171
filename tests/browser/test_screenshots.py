"""Screenshots of the panel with realistic pt-BR data, at desktop and phone width.

Saved under var/test-artifacts/ on every run (CI keeps them as artifacts);
HELPDESK_SCREENSHOT_DIR=docs refreshes the README's pictures:

    HELPDESK_SCREENSHOT_DIR=docs .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import Page

from helpdesk.accounts import user_create
from helpdesk.models import TicketPresence
from tests.browser.conftest import PageWatch, log_in
from tests.conftest import PASSWORD
from tickets import services
from tickets.models import Category, Team, Ticket
from tickets.states import Priority, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n"


README_SHOTS = {"screenshot-list.png", "screenshot-agent-ticket.png", "screenshot-reports.png"}


def artifact_dir(name: str) -> Path:
    """var/test-artifacts/, or HELPDESK_SCREENSHOT_DIR for the README's two pictures."""
    wanted = os.environ.get("HELPDESK_SCREENSHOT_DIR")
    if wanted and name in README_SHOTS:
        path = Path(wanted)
    else:
        # ./var, not the run's data dir: tests/settings.py removes that at exit.
        path = Path(django_settings.BASE_DIR) / "var" / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_data(agent: Any, team: Team) -> Ticket:
    """A morning's queue at a small Brazilian company's support desk."""
    bruno = user_create(
        email="bruno@support.example", full_name="Bruno Barros", role="agent", password=PASSWORD
    )
    team.members.add(bruno)
    finance = Category.objects.create(name="Financeiro", default_team=team)
    access = Category.objects.create(name="Acesso e senhas", default_team=team)
    hardware = Category.objects.create(name="Equipamentos", default_team=team)
    people = [
        ("joana.prado@padariaestrela.com.br", "Joana Prado"),
        ("marcos@transportesrioverde.com.br", "Marcos Vieira"),
        ("luiza.campos@clinicavida.med.br", "Luiza Campos"),
        ("rafael@escritoriomoura.adv.br", "Rafael Moura"),
    ]
    customers = [
        user_create(email=e, full_name=n, role="customer", password=PASSWORD) for e, n in people
    ]
    queue = [
        (0, finance, Priority.HIGH, "Boleto de novembro veio com valor em dobro"),
        (1, access, Priority.URGENT, "Não consigo acessar o sistema desde a troca de senha"),
        (2, hardware, Priority.MEDIUM, "Impressora da recepção imprime tudo borrado"),
        (3, finance, Priority.LOW, "Pedido de segunda via da nota fiscal de outubro"),
        (0, access, Priority.MEDIUM, "Incluir nova funcionária no acesso ao portal"),
        (2, hardware, Priority.HIGH, "Leitor de código de barras parou de funcionar"),
    ]
    tickets = []
    for who, category, priority, subject in queue:
        t = services.ticket_create(
            requester=customers[who],
            subject=subject,
            body="Bom dia! Podem me ajudar com isso, por favor?",
            category=category,
            priority=priority,
        )
        tickets.append(t)
    services.ticket_assign(ticket=tickets[2], assignee=bruno, actor=agent)
    services.ticket_transition(ticket=tickets[3], to=Status.WAITING_CUSTOMER, actor=agent)
    services.ticket_transition(ticket=tickets[4], to=Status.RESOLVED, actor=agent)

    main = services.ticket_create(
        requester=customers[0],
        subject="Cobrança duplicada no cartão da loja",
        body=(
            "Bom dia,\n\nNo extrato do cartão da padaria apareceram duas cobranças de "
            "R$ 349,90 no dia 12, referentes à mesma mensalidade. Podem verificar e "
            "estornar uma delas?\n\nObrigada,\nJoana Prado\nPadaria Estrela"
        ),
        category=finance,
        priority=Priority.HIGH,
    )
    services.ticket_assign(ticket=main, assignee=agent, actor=agent)
    services.ticket_transition(ticket=main, to=Status.IN_PROGRESS, actor=agent)
    services.ticket_reply_add(
        ticket=main,
        author=agent,
        body=(
            "Olá, Joana! Obrigada pelo aviso. Já localizei as duas cobranças e pedi o "
            "estorno de uma delas à operadora. Assim que tiver o protocolo, envio aqui."
        ),
    )
    services.ticket_reply_add(
        ticket=main,
        author=agent,
        body="@Bruno, o estorno pela operadora leva até 2 faturas; confirma com o financeiro?",
        internal=True,
    )
    services.ticket_reply_add(
        ticket=main,
        author=customers[0],
        body="Perfeito, fico no aguardo do protocolo. Obrigada pela rapidez!",
    )
    # Bruno has the ticket open and is typing: the presence badge shows it.
    TicketPresence.objects.create(
        ticket=main, user=bruno, state=TicketPresence.State.REPLYING, seen_at=timezone.now()
    )
    Ticket.objects.filter(pk=main.pk).update(updated_at=timezone.now() + timedelta(seconds=1))
    return main


def test_screenshots_of_the_agent_panel(
    page: Page, server: str, watch: PageWatch, agent: Any, team: Team, settings: Any
) -> None:
    settings.HELPDESK_PRESENCE_SECONDS = 600  # keep the staged presence row on screen
    ticket = demo_data(agent, team)
    log_in(page, server, agent.email)
    shots = {}
    page.set_viewport_size({"width": 1440, "height": 820})
    page.goto(f"{server}/tickets/")
    page.wait_for_load_state("networkidle")
    shots["screenshot-list.png"] = page.screenshot(full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/tickets/{ticket.reference}/")
    page.wait_for_selector("[data-presence-user='bruno@support.example']")
    shots["screenshot-agent-ticket.png"] = page.screenshot(full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    page.wait_for_load_state("networkidle")
    shots["screenshot-agent-ticket-375.png"] = page.screenshot(full_page=True)
    page.goto(f"{server}/tickets/")
    page.wait_for_load_state("networkidle")
    shots["screenshot-list-375.png"] = page.screenshot(full_page=True)
    for name, data in shots.items():
        assert data[:8] == PNG
        (artifact_dir(name) / name).write_bytes(data)
    assert watch.csp_violations == [] and watch.foreign_requests == []

"""The agent's desk in a real browser: take a ticket in one click, see the
thread name people, go away and back, transfer with a reason, and a page
that learns of a customer's new message without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, log_in
from tickets import services
from tickets.models import Team, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _quick_live_page(monkeypatch: Any, settings: Any) -> None:
    monkeypatch.setattr("helpdesk.views.ticket_detail.LIVE_SECONDS", 1)
    settings.HELPDESK_NOTIFICATION_POLL_SECONDS = 1
    settings.HELPDESK_PRESENCE_SECONDS = 1


def test_an_agent_takes_transfers_and_sees_new_messages_live(
    page: Page, server: str, watch: PageWatch, ticket: Ticket, agent: Any, customer: Any
) -> None:
    finance = Team.objects.create(name="Financeiro")
    log_in(page, server, agent.email)
    page.goto(f"{server}/tickets/{ticket.reference}/")

    # One click: the ticket is mine, the form and the thread follow in place.
    page.locator("#ticket-take").click()
    expect(page.locator("#ticket-take")).to_have_count(0)
    expect(page.locator("#thread")).to_contain_text("Ana Agente")
    expect(page.locator("#thread")).to_contain_text("assumiu o ticket")
    ticket.refresh_from_db()
    assert ticket.assigned_to == agent

    # In-place status change: the header badge follows without a reload.
    page.select_option("#ticket-properties select[name='status']", "in_progress")
    expect(page.locator("#ticket-badges")).to_contain_text("Em andamento")

    # The customer writes meanwhile: the open page shows it by itself.
    services.ticket_reply_add(ticket=ticket, author=customer, body="Chegou uma peça nova?")
    expect(page.locator("#thread")).to_contain_text("Chegou uma peça nova?", timeout=10_000)

    # Transfer to another team, with a reason the thread keeps for staff.
    page.locator("#transfer-h").click()
    page.select_option("#id_transfer-team", label="Financeiro")
    page.fill("#id_transfer-reason", "Reembolso é com o financeiro")
    page.locator("#transfer-send").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#thread")).to_contain_text("Reembolso é com o financeiro")
    ticket.refresh_from_db()
    assert ticket.team == finance

    # Away and back from the account menu.
    page.locator(".navbar .dropdown-toggle").click()
    page.locator("#availability-toggle").click()
    page.wait_for_load_state("networkidle")
    agent.refresh_from_db()
    assert not agent.is_available
    page.locator(".navbar .dropdown-toggle").click()
    expect(page.locator("#availability-toggle")).to_contain_text("Ficar disponível")

    assert watch.csp_violations == [] and watch.errors == [] and watch.dialogs == []
    assert watch.foreign_requests == []

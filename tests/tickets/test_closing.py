"""Closing the loop: auto-close after HELPDESK_AUTOCLOSE_DAYS, once; a bare
thanks does not reopen."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailgateway.ingest import ingest_raw_email
from outbound.models import OutboxItem
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.closing import autoclose, autoclose_due, is_bare_thanks
from tickets.models import Ticket, TicketEvent


def resolved(ticket: Ticket, agent: Any, *, days_ago: float) -> Ticket:
    services.ticket_transition(ticket=ticket, to="resolved", actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - timedelta(days=days_ago)
    )
    ticket.refresh_from_db()
    return ticket


def test_resolved_tickets_close_after_the_configured_days_once(
    ticket: Ticket, agent: Any, customer: Any, category: Any, settings: Any
) -> None:
    settings.HELPDESK_AUTOCLOSE_DAYS = 5
    old = resolved(ticket, agent, days_ago=5.1)
    recent = resolved(
        services.ticket_create(requester=customer, subject="Outro", body="x", category=category),
        agent,
        days_ago=4.9,
    )
    out = StringIO()
    call_command("close_resolved", stdout=out)
    assert out.getvalue().strip() == "closed 1 resolved ticket(s)"
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, recent.status) == ("closed", "resolved")
    event = TicketEvent.objects.filter(ticket=old, kind="status").latest("id")
    assert (event.old_value, event.new_value, event.actor) == ("resolved", "closed", None)
    survey = OutboxItem.objects.filter(ticket=old, event="ticket_closed")
    assert [i.recipient for i in survey] == [customer.email]

    quiet = StringIO()
    call_command("close_resolved", stdout=quiet)  # nothing left: silent under cron
    assert quiet.getvalue() == ""
    assert OutboxItem.objects.filter(ticket=old, event="ticket_closed").count() == 1


def test_two_copies_close_a_ticket_once(ticket: Ticket, agent: Any) -> None:
    resolved(ticket, agent, days_ago=30)
    [due] = autoclose_due()
    assert autoclose(due) is True
    assert autoclose(due) is False  # the second copy finds it closed
    assert TicketEvent.objects.filter(ticket=ticket, new_value="closed").count() == 1


def test_the_customer_answering_in_time_keeps_it_from_closing(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    resolved(ticket, agent, days_ago=10)
    services.ticket_reply_add(ticket=ticket, author=customer, body="Não funcionou.")
    assert autoclose_due() == []


@pytest.mark.parametrize(
    ("text", "thanks"),
    [
        ("Obrigado!", True),
        ("Muito obrigada, funcionou :)", True),
        ("Valeu, Ana!", True),
        ("Thanks a lot, it works now.", True),
        ("Obrigado. Mas como faço para exportar?", False),
        ("Ainda não funciona.", False),
        ("Obrigado pela resposta, porém o erro continua aparecendo toda vez que eu abro "
         "o sistema de manhã e preciso reiniciar o computador para conseguir trabalhar", False),
    ],
)  # fmt: skip
def test_bare_thanks_are_told_apart(text: str, thanks: bool) -> None:
    assert is_bare_thanks(text) is thanks


def test_a_bare_thanks_does_not_reopen_and_pages_nobody(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    resolved(ticket, agent, days_ago=1)
    before = OutboxItem.objects.filter(recipient=agent.email).count()
    services.ticket_reply_add(ticket=ticket, author=customer, body="Obrigada, resolveu!")
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert ticket.messages.latest("id").is_quiet
    assert OutboxItem.objects.filter(recipient=agent.email).count() == before
    services.ticket_reply_add(ticket=ticket, author=customer, body="Obrigada, mas voltou?")
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_a_thanks_by_mail_to_a_closed_ticket_keeps_it_closed(
    ticket: Ticket, agent: Any, customer: Any, settings: Any, tmp_path: Any
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    services.ticket_transition(ticket=ticket, to="closed", actor=agent)
    raw = make_mail(subject=f"Re: [{ticket.reference}] {ticket.subject}", body="Valeu!")
    assert ingest_raw_email(raw, door="pipe").reference == ticket.reference
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.messages.latest("id").body == "Valeu!"

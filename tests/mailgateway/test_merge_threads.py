"""Merge keeps routing mail: the merged reference and its Message-IDs lead to
the survivor; a mail naming another ticket opens one with its own reference only."""

from __future__ import annotations

from typing import Any

import pytest

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

OTTO = "Otto Outro <otto@outra.com.br>"


@pytest.fixture
def merged(customer: Any, other_customer: Any, agent: Any) -> tuple[Ticket, Ticket]:
    """(duplicate, survivor): Otto's mailed ticket merged into Carla's."""
    survivor = services.ticket_create(
        requester=customer, subject="Impressora parada", body="Não imprime."
    )
    first = ingest_raw_email(
        make_mail(sender=OTTO, subject="Impressora do 3º andar", message_id="<otto1@outra>"),
        door="pipe",
    )
    duplicate = Ticket.objects.get(reference=first.reference)
    services.mail_id_record(ticket=duplicate, message_id="<notice-dup@example.com>", outbound=True)
    services.ticket_merge(source=duplicate, target=survivor, actor=agent)
    return duplicate, survivor


def test_merge_keeps_routing_mail(merged: tuple[Ticket, Ticket]) -> None:
    duplicate, survivor = merged
    by_subject = ingest_raw_email(
        make_mail(sender=OTTO, subject=f"Re: [{duplicate.reference}] Impressora do 3º andar"),
        door="pipe",
    )
    by_header = ingest_raw_email(
        make_mail(
            sender=OTTO,
            subject="Re: sem referência",
            headers={"In-Reply-To": "<notice-dup@example.com>"},
        ),
        door="pipe",
    )
    by_own_mail = ingest_raw_email(
        make_mail(sender=OTTO, subject="Mais uma", headers={"References": "<otto1@outra>"}),
        door="pipe",
    )
    for result in (by_subject, by_header, by_own_mail):
        assert (result.outcome, result.reference) == ("replied", survivor.reference)
    assert survivor.messages.count() == 5
    assert not duplicate.messages.exists()
    assert Ticket.objects.count() == 2


def test_the_duplicates_mails_follow_it(merged: tuple[Ticket, Ticket]) -> None:
    duplicate, survivor = merged
    assert not InboundMessage.objects.filter(ticket=duplicate).exists()
    assert InboundMessage.objects.filter(ticket=survivor).count() == 1


def test_a_stranger_naming_the_merged_reference_opens_a_linked_ticket(
    merged: tuple[Ticket, Ticket],
) -> None:
    duplicate, survivor = merged
    result = ingest_raw_email(
        make_mail(
            sender="Zé <ze@terceiro.com.br>",
            subject=f"RE: [{duplicate.reference}] Impressora do 3º andar",
        ),
        door="pipe",
    )
    assert result.outcome == "created"
    new = Ticket.objects.get(reference=result.reference)
    assert new.linked_to == survivor


def test_a_linked_tickets_subject_carries_only_its_own_reference(
    customer: Any, mailoutbox: Any
) -> None:
    other = services.ticket_create(requester=customer, subject="Impressora", body="Parou.")
    result = ingest_raw_email(
        make_mail(sender="Zé <ze@terceiro.com.br>", subject=f"Re: [{other.reference}] Impressora"),
        door="pipe",
    )
    new = Ticket.objects.get(reference=result.reference)
    assert new.linked_to == other
    assert new.subject == "Impressora"
    from django.core.management import call_command

    call_command("db_worker", "--batch")
    subjects = [m.subject for m in mailoutbox if new.reference in m.subject]
    assert subjects and all(other.reference not in s for s in subjects)

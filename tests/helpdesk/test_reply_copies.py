"""The reply box's Cc and Bcc: who a staff reply goes to, who stays on the
ticket, and who may see the blind copies."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk.ticket_forms import MAX_COPIES, ReplyForm
from outbound.mails import build_email
from outbound.models import OutboxItem
from tests.helpdesk.conftest import client_for
from tickets import services
from tickets.models import Message, Ticket, TicketCC


@pytest.fixture(autouse=True)
def _support(settings: Any) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_EXTRA_ADDRESSES = []
    settings.HELPDESK_SUPPORT_DOMAINS = []


def mails_of(ticket: Ticket, message: Message) -> dict[str, OutboxItem]:
    return {
        i.recipient: i
        for i in OutboxItem.objects.filter(ticket=ticket, payload__message_pk=message.pk)
    }


def test_it_parses_and_validates_the_address_lists(agent: Any) -> None:
    form = ReplyForm(
        {
            "body": "Olá",
            "cc": "Chefe <Chefe@Cliente.com.br>; ti@cliente.com.br,ti@cliente.com.br",
            "bcc": "gerente@fornecedor.com  outro@fornecedor.com",
        },
        user=agent,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["cc"] == ["chefe@cliente.com.br", "ti@cliente.com.br"]
    assert form.cleaned_data["bcc"] == ["gerente@fornecedor.com", "outro@fornecedor.com"]


@pytest.mark.parametrize("value", ["not-an-address", "a@b@c", "support+x@example.com"])
def test_it_refuses_bad_and_own_addresses(agent: Any, value: str) -> None:
    form = ReplyForm({"body": "Olá", "cc": value}, user=agent)
    assert not form.is_valid()
    assert "cc" in form.errors


def test_it_limits_the_copies_and_keeps_them_off_internal_notes(agent: Any) -> None:
    many = ", ".join(f"p{i}@cliente.com.br" for i in range(MAX_COPIES + 1))
    assert "cc" in ReplyForm({"body": "x", "cc": many}, user=agent).errors
    form = ReplyForm({"body": "x", "bcc": "a@b.com", "internal": "on"}, user=agent)
    assert "bcc" in form.errors


def test_customers_have_no_copy_fields(customer: Any) -> None:
    form = ReplyForm({"body": "x", "cc": "a@b.com", "bcc": "c@d.com"}, user=customer)
    assert form.is_valid()
    assert "cc" not in form.cleaned_data and "bcc" not in form.cleaned_data


def test_cc_joins_the_ticket_and_bcc_gets_this_mail_only(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    message = services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="Trocamos o toner.",
        cc=["chefe@cliente.com.br", customer.email],
        bcc=["gerente@fornecedor.com", "chefe@cliente.com.br"],
    )
    assert list(ticket.ccs.values_list("email", flat=True)) == ["chefe@cliente.com.br"]
    assert (message.cc, message.bcc) == ("chefe@cliente.com.br", "gerente@fornecedor.com")
    sent = mails_of(ticket, message)
    assert set(sent) == {customer.email, "chefe@cliente.com.br", "gerente@fornecedor.com"}
    blind = sent["gerente@fornecedor.com"]
    # No reply token: an answer from the blind copy cannot join the ticket as theirs.
    assert blind.payload["user_id"] is None
    assert blind.payload["reply_to"] == "support@example.com"
    mail = build_email(blind.payload)
    assert mail.to == ["gerente@fornecedor.com"] and "Trocamos o toner." in mail.body
    # Each recipient's mail names only them: the blind copy is in nobody's headers.
    for item in sent.values():
        assert "gerente" not in str(build_email(item.payload).message()) or item is blind

    # The next reply goes to the CC, not to the blind copy.
    later = services.ticket_reply_add(ticket=ticket, author=agent, body="Funcionou?")
    assert set(mails_of(ticket, later)) == {customer.email, "chefe@cliente.com.br"}
    assert later.cc == "chefe@cliente.com.br" and later.bcc == ""
    assert not TicketCC.objects.filter(email="gerente@fornecedor.com").exists()


def test_only_a_staff_public_reply_carries_copies(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    with pytest.raises(ValidationError):
        services.ticket_reply_add(
            ticket=ticket, author=agent, body="x", internal=True, bcc=["a@b.com"]
        )
    with pytest.raises(ValidationError):
        services.ticket_reply_add(ticket=ticket, author=customer, body="x", cc=["a@b.com"])


def test_the_view_sends_the_copies_and_the_thread_shows_them(
    ticket: Ticket, agent: Any, customer: Any
) -> None:
    url = reverse("ticket_reply", args=[ticket.reference])
    response = client_for(agent).post(
        url,
        {"body": "Segue a solução.", "cc": "chefe@cliente.com.br", "bcc": "auditor@externo.com"},
    )
    assert response.status_code == 302
    message = ticket.messages.get(body="Segue a solução.")
    assert message.cc == "chefe@cliente.com.br" and message.bcc == "auditor@externo.com"
    detail = ticket.get_absolute_url()
    staff_page = client_for(agent).get(detail).content.decode()
    customer_page = client_for(customer).get(detail).content.decode()
    for page in (staff_page, customer_page):
        assert "chefe@cliente.com.br" in page
    assert "auditor@externo.com" in staff_page
    assert "auditor@externo.com" not in customer_page
    thread = client_for(customer).get(reverse("ticket_thread", args=[ticket.reference]))
    assert "auditor@externo.com" not in thread.content.decode()


def test_the_view_shows_a_bad_address_back_to_the_agent(ticket: Ticket, agent: Any) -> None:
    url = reverse("ticket_reply", args=[ticket.reference])
    response = client_for(agent).post(url, {"body": "Segue.", "cc": "chefe@"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "chefe@" in page and 'id="id_cc"' in page
    assert not ticket.messages.filter(body="Segue.").exists()

"""Internal content never reaches a customer: every page and fragment a
customer can open, and every mail queued to a customer or a CC, over a ticket
seeded with each kind of staff-only content, by the real paths (the web and
the mail gateway).

The pages come from the authorization table (tests/helpdesk/
test_authorization_matrix.py): every GET route the requester may open is
swept, so a new customer page is checked the day it is added.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.feedback import feedback_path
from helpdesk.models import Notification
from mailgateway.ingest import ingest_raw_email
from outbound.mails import build_email
from outbound.models import OutboxItem
from outbound.tokens import reply_address
from tests.helpdesk.test_authorization_matrix import EXPECTED
from tickets import services
from tickets.models import Ticket
from tickets.services import NewAttachment

NOTE = "nota-interna-7f3a"
NOTE_FILE = "segredo-interno-7f3a.txt"
QUOTE = "citacao-da-equipe-9b1c"
HTML_QUOTE = "html-citado-da-equipe-5d2e"
CC = "chefe@cliente.com.br"
# What a mail command leaves in the thread for staff, in both languages.
COMMAND_TRACES = ("#assign", "#priority", "Mail command", "Comando por e-mail")
LEAKS = (NOTE, NOTE_FILE, QUOTE, HTML_QUOTE, *COMMAND_TRACES)


def staff_mail(ticket: Ticket, agent: Any, *, body: str, html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ana Agente <{agent.email}>"
    msg["To"] = reply_address(ticket.pk, agent.pk)
    msg["Subject"] = f"Re: [{ticket.reference}] {ticket.subject}"
    msg["Message-ID"] = make_msgid(domain="support.example")
    msg.set_content(body)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


@pytest.fixture
def seeded(
    settings: Any, ticket: Ticket, customer: Any, agent: Any, manager: Any, tmp_path: Any
) -> Ticket:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    services.ticket_cc_add(ticket=ticket, email=CC, name="Chefe")
    # An internal note with a file, from the web.
    services.ticket_reply_add(
        ticket=ticket,
        author=manager,
        body=f"{NOTE}: @Ana não comentar com o cliente",
        internal=True,
        attachments=[NewAttachment(name=NOTE_FILE, content_type="text/plain", content=b"x")],
    )
    # An agent's mailed reply quoting the staff notice, in text and HTML.
    text = (
        "Pode reiniciar a impressora?\n\n"
        "Em qua., 2 de dez. de 2026 às 10:00, Helpdesk <support@example.com> escreveu:\n"
        f"> Mário Gerente adicionou uma nota interna:\n> {QUOTE}\n"
    )
    html = (
        "<p>Pode reiniciar a impressora?</p>"
        f"<blockquote>Mário Gerente adicionou uma nota interna: {HTML_QUOTE}</blockquote>"
    )
    assert ingest_raw_email(staff_mail(ticket, agent, body=text, html=html), door="pipe").reference
    # Mail commands with a public answer, one of them refused.
    commands = "#assign me\n#priority high\n#status nonsense\n\nTrocamos o toner."
    mailed = staff_mail(ticket, agent, body=commands, html=f"<p>{commands}</p>")
    ingest_raw_email(mailed, door="pipe")
    # And an ordinary customer reply, so the customer-side notices exist.
    services.ticket_reply_add(ticket=ticket, author=customer, body="Obrigada!")
    return ticket


def customer_pages(ticket: Ticket, customer: Any) -> list[str]:
    """Every GET route the requester may open (from the authorization table),
    with the ticket's own, and the mailed feedback links."""
    notification = Notification.objects.filter(recipient=customer).first()
    kwargs: dict[str, dict[str, Any]] = {
        "": {},
        "ticket": {"reference": ticket.reference},
        "bad_token": {"token": "x"},
        "reset": {"uidb64": "MQ", "token": "set-password"},
        "notification": {"pk": notification.pk if notification else 0},
    }
    urls = [
        reverse(name, kwargs=kwargs[key])
        for name, (method, key, _data, expected) in EXPECTED.items()
        if method == "GET" and expected["owner"] == 200 and key in kwargs
    ]
    for action in ("confirm", "reopen", "rate"):
        urls.append(feedback_path(ticket_id=ticket.pk, user_id=customer.pk, action=action))
    return urls


def test_no_page_or_fragment_shows_a_customer_internal_content(
    seeded: Ticket, customer: Any, agent: Any
) -> None:
    client = Client()
    client.force_login(customer)
    urls = customer_pages(seeded, customer)
    assert any(seeded.reference in url for url in urls) and len(urls) > 10
    for url in urls:
        response = client.get(url)
        assert response.status_code in {200, 302, 404}, url
        html = response.content.decode()
        for leak in (*LEAKS, agent.email):
            assert leak not in html, f"{leak!r} on {url}"
    # The search finds the ticket by what the customer may read, never by
    # words only staff wrote.
    search = f"{reverse('ticket_list')}?q="
    assert seeded.reference in client.get(search + "toner").content.decode()
    for leak in (NOTE, QUOTE, HTML_QUOTE):
        assert seeded.reference not in client.get(search + leak).content.decode(), leak

    # The same content is there for staff: the sweep would notice it missing.
    staff = Client()
    staff.force_login(agent)
    page = staff.get(seeded.get_absolute_url()).content.decode()
    assert NOTE in page and NOTE_FILE in page and QUOTE in page and HTML_QUOTE in page
    assert "Comando por e-mail" in page


def test_no_mail_to_a_customer_or_cc_carries_internal_content(
    seeded: Ticket, customer: Any
) -> None:
    items = list(OutboxItem.objects.filter(ticket=seeded, recipient__in=[customer.email, CC]))
    assert {i.recipient for i in items} == {customer.email, CC}
    assert {i.event for i in items} >= {"ticket_created", "agent_reply"}
    for item in items:
        mail = build_email(item.payload)
        parts = [mail.subject, mail.body, *(body for body, _type in mail.alternatives)]
        parts += [str(name) for name, _content, _type in mail.attachments]
        for leak in LEAKS:
            assert all(leak not in part for part in parts), f"{leak!r} in {item.event}"
    agent_replies = [i for i in items if i.event == "agent_reply"]
    assert any("Trocamos o toner" in build_email(i.payload).body for i in agent_replies)


def test_in_app_notices_of_a_customer_name_no_internal_entry(seeded: Ticket, customer: Any) -> None:
    kinds = set(Notification.objects.filter(recipient=customer).values_list("kind", flat=True))
    assert Notification.Kind.NOTE not in kinds

"""Internal content never reaches a customer, checked where the customer
reads it: the rendered page in a real browser, frames (mail HTML) included,
after the page's scripts ran and its live poller refreshed the thread."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from playwright.sync_api import Page

from mailgateway.ingest import ingest_raw_email
from outbound.tokens import reply_address
from tests.browser.conftest import PageWatch, log_in
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTE = "nota-interna-b7c1"
QUOTE = "citacao-da-equipe-b7c1"
HTML_QUOTE = "html-citado-b7c1"


@pytest.fixture(autouse=True)
def _quick_live_page(monkeypatch: Any) -> None:
    monkeypatch.setattr("helpdesk.views.ticket_detail.LIVE_SECONDS", 1)


def staff_mail(ticket: Ticket, agent: Any) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ana Agente <{agent.email}>"
    msg["To"] = reply_address(ticket.pk, agent.pk)
    msg["Subject"] = f"Re: [{ticket.reference}] {ticket.subject}"
    msg["Message-ID"] = make_msgid(domain="support.example")
    msg.set_content(
        "Pode reiniciar a impressora?\n\n"
        "Em qua., 2 de dez. de 2026 às 10:00, Helpdesk <support@example.com> escreveu:\n"
        f"> Nota interna: {QUOTE}\n"
    )
    msg.add_alternative(
        f"<p>Pode reiniciar a impressora?</p><blockquote>{HTML_QUOTE}</blockquote>",
        subtype="html",
    )
    return msg.as_bytes()


def every_text(page: Page) -> str:
    """The page's visible text and every frame's (the sandboxed mail HTML)."""
    return "\n".join(frame.evaluate("() => document.body ? document.body.innerText : ''")
                     for frame in page.frames)  # fmt: skip


def test_a_customer_page_shows_no_internal_content_even_after_a_live_refresh(
    page: Page,
    server: str,
    watch: PageWatch,
    ticket: Ticket,
    agent: Any,
    customer: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    services.ticket_reply_add(ticket=ticket, author=agent, body=NOTE, internal=True)
    ingest_raw_email(staff_mail(ticket, agent), door="pipe")

    log_in(page, server, customer.email)
    page.goto(f"{server}/tickets/{ticket.reference}/")
    page.wait_for_load_state("networkidle")
    seen = every_text(page)
    assert "Pode reiniciar a impressora?" in seen
    # A new internal note while the page is open: the live refresh brings the
    # thread again, still without it.
    services.ticket_reply_add(ticket=ticket, author=agent, body=f"{NOTE} 2", internal=True)
    services.ticket_reply_add(ticket=ticket, author=agent, body="Já reiniciamos o servidor.")
    page.locator("#thread").get_by_text("Já reiniciamos o servidor.").wait_for(timeout=10_000)
    seen = every_text(page)
    for leak in (NOTE, QUOTE, HTML_QUOTE, "Comando por e-mail", agent.email):
        assert leak not in seen, leak
    assert page.locator("iframe.mail-html").count() == 0  # an agent's mail HTML stays staff-only
    assert watch.csp_violations == [] and watch.errors == []

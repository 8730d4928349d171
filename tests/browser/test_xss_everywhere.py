"""B5 everywhere: the XSS corpus (tests/browser/xss_corpus.py, 150+ payloads)
put in through every way text enters the helpdesk — a mail's subject, display
name, text and HTML bodies and attachment file name; the new-ticket and reply
forms; an internal note; a profile's name and signature; a search query — and
then every page, fragment and admin page that shows it, and every notification
mail it caused, rendered in headless Chromium: no script runs, nothing breaks
the CSP, nothing is fetched from another host."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Page

from mailgateway.ingest import ingest_raw_email
from tests.browser import xss_corpus
from tests.browser.conftest import PageWatch, log_in
from tests.browser.test_xss import DANGEROUS_DOM, rendered_frames
from tests.conftest import PASSWORD
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHORT = xss_corpus.SHORT

# On our own pages (which have scripts, styles and forms of their own): what a
# payload would add — an inline script, an event handler attribute, a
# javascript:/vbscript:/data: link or source. Mail frames get DANGEROUS_DOM.
PAGE_INJECTIONS = """
() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const tag = el.tagName.toLowerCase();
    if (tag === 'script' && !el.src && el.type !== 'application/json') bad.push('inline script');
    for (const attr of el.attributes) {
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (attr.name.startsWith('on')) bad.push(tag + '@' + attr.name);
      if (['href', 'src', 'action', 'xlink:href', 'formaction'].includes(attr.name)
          && /^(javascript|vbscript|data):/.test(value)) bad.push(tag + '@' + attr.name);
    }
  }
  return bad;
}
"""


def _hostile_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = f'"{SHORT[1]}" <mallory@cliente.com.br>'
    msg["To"] = "support@example.com"
    msg["Subject"] = SHORT[3] + " " + SHORT[0]
    msg["Message-ID"] = "<xss-everywhere@cliente.com.br>"
    msg.set_content("\n".join(xss_corpus.PAYLOADS))
    msg.add_alternative(xss_corpus.html_body(), subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 x", maintype="application", subtype="pdf", filename=SHORT[2] + ".pdf"
    )
    return msg.as_bytes()


@pytest.fixture
def hostile(customer: Any, agent: Any, manager: Any, admin_user: Any) -> dict[str, Any]:
    """The corpus in through every door; returns the tickets' references."""
    mailed = ingest_raw_email(_hostile_mail(), door="pipe", envelope_rcpts=["support@example.com"])
    assert mailed.outcome == "created", mailed
    customer_client = Client()
    customer_client.force_login(customer)
    profile = customer_client.post(
        "/accounts/profile/",
        {
            "full_name": SHORT[0],
            "language": "pt-br",
            "time_zone": "America/Sao_Paulo",
            "signature": SHORT[1],
        },
    )
    assert profile.status_code == 302
    created = customer_client.post(
        "/tickets/new/",
        {"priority": "high", "subject": SHORT[2], "description": "\n".join(xss_corpus.PAYLOADS)},
    )
    assert created.status_code == 302, created.content[:500]
    web_ticket = Ticket.objects.exclude(reference=mailed.reference).get()
    agent_client = Client()
    agent_client.force_login(agent)
    for reference in (mailed.reference, web_ticket.reference):
        for data in (
            {"body": "\n".join(xss_corpus.PAYLOADS[:60])},
            {"body": SHORT[4] + "\n" + xss_corpus.PAYLOADS[0], "internal": "on"},
        ):
            answer = agent_client.post(f"/tickets/{reference}/reply/", data)
            assert answer.status_code == 302, answer.content[:500]
    mail.outbox.clear()
    call_command("db_worker", "--batch", "--no-startup-delay", "-v0")
    for user in (customer, agent, manager, admin_user):
        user.set_password(PASSWORD)
        user.save()
    return {"mailed": mailed.reference, "web": web_ticket.reference, "customer": customer}


def _assert_inert(page: Page, watch: PageWatch, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.mouse.move(200, 300)
    page.mouse.wheel(0, 4000)
    page.wait_for_timeout(200)
    for frame in rendered_frames(page):
        if frame is page.main_frame:
            found = frame.evaluate(PAGE_INJECTIONS)
        else:  # a mail's own sandboxed frame: nothing active at all
            found = frame.evaluate(DANGEROUS_DOM, "*")
        assert found == [], (url, frame.url, found)
    assert watch.dialogs == [], url
    assert watch.csp_violations == [], url
    assert watch.foreign_requests == [], url


def test_the_corpus_is_inert_on_every_page_and_admin_page(
    page: Page, server: str, watch: PageWatch, hostile: dict[str, Any], agent: Any,
    manager: Any, admin_user: Any,
) -> None:  # fmt: skip
    assert len(xss_corpus.PAYLOADS) >= 150
    mailed, web = hostile["mailed"], hostile["web"]
    query = quote(SHORT[0])
    common = ["/", "/tickets/", f"/tickets/{mailed}/", f"/tickets/{web}/", "/notifications/"]
    staff = [
        f"/tickets/?q={query}",
        f"/tickets/{mailed}/thread/",
        f"/tickets/{web}/live/",
        "/canned/",
        "/accounts/profile/",
    ]
    visits = {
        hostile["customer"].email: [*common, "/accounts/profile/", f"/tickets/?q={query}"],
        agent.email: common + staff,
        manager.email: ["/reports/", "/reports/satisfaction/"],
        admin_user.email: [
            "/system/",
            "/admin/mailgateway/inboundmessage/",
            "/admin/tickets/ticket/",
            "/admin/tickets/message/",
            "/admin/helpdesk/user/",
            "/admin/helpdesk/auditentry/",
            "/admin/outbound/outboxitem/",
        ],
    }
    for email, paths in visits.items():
        page.context.clear_cookies()
        log_in(page, server, email)
        for path in paths:
            _assert_inert(page, watch, server + path)
    # The admin's change pages of the hostile rows themselves.
    from mailgateway.models import InboundMessage
    from tickets.models import Message

    inbound = InboundMessage.objects.get(message_id="xss-everywhere@cliente.com.br")
    first = Message.objects.filter(ticket__reference=mailed).order_by("pk").first()
    assert first is not None
    for path in (
        f"/admin/mailgateway/inboundmessage/{inbound.pk}/change/",
        f"/admin/tickets/ticket/{first.ticket_id}/change/",
        f"/admin/tickets/message/{first.pk}/change/",
    ):
        _assert_inert(page, watch, server + path)


def test_every_notification_mail_is_inert(
    page: Page, server: str, watch: PageWatch, hostile: dict[str, Any]
) -> None:
    """The mails are read in mail clients, which apply no CSP of ours: their
    HTML must be inert by itself. Rendered on a blank page (no CSP at all)."""
    sent = [m for m in mail.outbox if getattr(m, "alternatives", None)]
    assert len(sent) >= 4, [m.subject for m in mail.outbox]
    for message in sent:
        for content, mimetype in message.alternatives:
            assert mimetype == "text/html"
            page.goto("about:blank")
            page.set_content(str(content))
            page.mouse.move(200, 300)
            page.wait_for_timeout(100)
            # Our layout's own <meta charset>/<style> are expected; a refresh,
            # a base, anything active or any handler is not.
            found = page.main_frame.evaluate(DANGEROUS_DOM, "body *")
            found += page.main_frame.evaluate(
                "() => [...document.querySelectorAll('meta[http-equiv], base, link[href]')]"
                ".map(e => e.tagName.toLowerCase())"
            )
            hostile_found = [f for f in found if "@style" not in f and f != "style"]
            assert hostile_found == [], (message.subject, hostile_found)
        # A subject is text in every mail client; what matters is that it
        # stays one header (no injected line).
        assert "\n" not in message.subject and "\r" not in message.subject
    assert watch.dialogs == []
    assert watch.foreign_requests == []

"""Hostile mail rendered in a real browser (RELIABILITY-SECURITY.md B5, B6):
no payload runs, nothing violates the CSP, nothing is fetched from elsewhere."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Frame, Page

from tests.browser import xss_corpus
from tests.browser.conftest import PageWatch, log_in
from tests.conftest import PASSWORD
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Anything the sanitiser should have removed, looked for in the rendered DOM.
DANGEROUS_DOM = """
(selector) => {
  const bad = [];
  for (const el of document.querySelectorAll(selector)) {
    // Our own sandboxed frame for mail HTML (sized by our script); what is
    // inside it is checked as a frame of its own.
    if (el.classList.contains('mail-html')) continue;
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'meta', 'base', 'link', 'style', 'svg',
         'math', 'form'].includes(tag)) bad.push(tag);
    for (const attr of el.attributes) {
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (attr.name.startsWith('on')) bad.push(tag + '@' + attr.name);
      if (['href', 'src', 'action', 'xlink:href', 'formaction'].includes(attr.name)
          && /^(javascript|vbscript|data):/.test(value)) bad.push(tag + '@' + attr.name);
      if (attr.name === 'style') bad.push(tag + '@style');
    }
  }
  return bad;
}
"""


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def hostile_ticket(customer: Any) -> tuple[Ticket, Any, str]:
    """The corpus as a ticket, made the most realistic way main supports:
    through the mail gateway, else the gateway's sanitiser and the services,
    else as plain text through the services. Returns (ticket, requester, how)."""
    if has_module("mailgateway.ingest"):
        from mailgateway.ingest import ingest_raw_email

        result = ingest_raw_email(
            xss_corpus.raw_email(), door="pipe", envelope_rcpts=["support@example.com"]
        )
        assert result.outcome == "created", result
        ticket = Ticket.objects.get(reference=result.reference)
        requester = ticket.created_by
        requester.set_password(PASSWORD)
        requester.save()
        return ticket, requester, "ingest"
    if has_module("mailgateway.sanitize"):
        from mailgateway.sanitize import sanitize_html

        ticket = services.ticket_create(
            requester=customer,
            subject=xss_corpus.SUBJECT,
            body="Olá, segue o problema (versão texto).",
            body_html=sanitize_html(xss_corpus.html_body()),
            source="email",
        )
        return ticket, customer, "sanitize"
    ticket = services.ticket_create(
        requester=customer,
        subject=xss_corpus.SUBJECT,
        body="\n".join(xss_corpus.PAYLOADS),
        source="email",
    )
    return ticket, customer, "text"


def rendered_frames(page: Page) -> list[Frame]:
    return [page.main_frame, *[f for f in page.frames if f is not page.main_frame]]


@pytest.mark.parametrize("viewer", ["agent", "requester"])
def test_the_xss_corpus_is_inert_in_the_ticket_page(
    page: Page, server: str, watch: PageWatch, agent: Any, customer: Any, viewer: str
) -> None:
    assert len(xss_corpus.PAYLOADS) >= 30
    ticket, requester, how = hostile_ticket(customer)
    first = ticket.messages.first()
    assert first is not None and (how == "text" or first.body_html), how
    log_in(page, server, agent.email if viewer == "agent" else requester.email)
    for path in (f"/tickets/{ticket.reference}/", "/tickets/", "/notifications/", "/"):
        page.goto(server + path)
        page.wait_for_load_state("networkidle")
        page.mouse.move(200, 300)  # hover handlers get their chance too
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(300)  # a grace period for anything that would fire late
        frames = rendered_frames(page)
        if path.startswith("/tickets/HD-") and how != "text":
            assert len(frames) > 1, "the mail HTML frame is there"
            texts = [
                f.evaluate("() => document.body ? document.body.innerText : ''") for f in frames
            ]
            assert any("segue o problema" in t for t in texts), "the mail was rendered"
        for frame in frames:
            # Our page: the thread, less the staff's own move/split forms of the
            # threading panel; a mail's own frame: every element in it.
            selector = (
                ".thread *:not(.mail-verdict, .mail-verdict *)" if frame is page.main_frame else "*"
            )
            assert frame.evaluate(DANGEROUS_DOM, selector) == [], (path, frame.url, how)
    page.goto(f"{server}/tickets/{ticket.reference}/")
    assert "Fatura" in page.title() or "Fatura" in page.content()
    assert watch.dialogs == [], how
    assert watch.csp_violations == [], how
    assert watch.foreign_requests == [], how


def test_the_watch_does_catch_what_it_looks_for(page: Page, server: str, watch: PageWatch) -> None:
    """A control: without it, the zeros above could come from a deaf listener."""
    page.goto(f"{server}/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'alert(1)';"
        " document.body.appendChild(s); }"
    )
    wait_until(page, lambda: watch.csp_violations != [])  # our CSP refused the script
    page.goto("about:blank")  # no CSP here
    page.set_content("<script>alert('control')</script>")
    page.evaluate(f"() => fetch('{xss_corpus.FOREIGN}/control').catch(() => null)")
    wait_until(page, lambda: watch.dialogs != [] and watch.foreign_requests != [])
    assert watch.dialogs == ["alert: control"]
    assert any("/control" in url for url in watch.foreign_requests)


def wait_until(page: Page, condition: Callable[[], bool], seconds: float = 10) -> None:
    """Let the browser's events arrive (polled, so a slow machine only waits longer)."""
    for _ in range(int(seconds * 20)):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the browser never reported the event")

"""The web panel in a real browser: the flows people use every day."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from helpdesk.accounts import user_create
from helpdesk.models import Notification, SatisfactionRating
from tests.browser.conftest import PageWatch, log_in
from tests.conftest import PASSWORD
from tickets import services
from tickets.models import Category, Ticket
from tickets.states import Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _quick_polling(settings: Any) -> None:
    # The bell polls every 20 s and presence beats every 15 s in production;
    # a second keeps the test short without changing what is exercised.
    settings.HELPDESK_NOTIFICATION_POLL_SECONDS = 1
    settings.HELPDESK_PRESENCE_SECONDS = 1


def no_horizontal_overflow(page: Page) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


def test_customer_opens_a_ticket_agent_answers_customer_confirms_and_rates(
    page: Page,
    browser: Any,
    server: str,
    watch: PageWatch,
    agent: Any,
    customer: Any,
    category: Category,
    settings: Any,
) -> None:
    # --- the customer opens a ticket; the form validates as they type -------
    log_in(page, server, customer.email)
    page.goto(f"{server}/tickets/new/")
    page.locator("#ticket-form button[type='submit']").click()
    expect(page.locator("[data-field-error='subject']")).not_to_be_empty()
    expect(page.locator("#id_subject")).to_have_class(re.compile(r"\bis-invalid\b"))
    assert page.url.endswith("/tickets/new/")  # the browser stopped the submit
    page.select_option("#id_category", label=category.name)
    page.fill("#id_subject", "Impressora do financeiro não imprime")
    page.fill("#id_description", "Desde ontem aparece 'erro de papel' no visor.")
    page.locator("#ticket-form button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    ticket = Ticket.objects.get(subject="Impressora do financeiro não imprime")
    expect(page.locator("body")).to_contain_text(ticket.reference)

    # --- the agent, in a second browser context, sees the bell and the list --
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
    agent_page = agent_context.new_page()
    agent_watch = PageWatch(origin_host=watch.origin_host)
    agent_page.on("dialog", agent_watch.on_dialog)
    agent_page.on("console", agent_watch.on_console)
    agent_page.on("request", agent_watch.on_request)
    log_in(agent_page, server, agent.email)
    expect(agent_page.locator("#notification-bell .notification-count")).to_have_text("1")
    agent_page.goto(f"{server}/tickets/")
    agent_page.keyboard.press("?")
    expect(agent_page.locator("#shortcuts-help")).to_be_visible()
    agent_page.keyboard.press("Escape")
    expect(agent_page.locator("#shortcuts-help")).to_be_hidden()
    agent_page.keyboard.press("j")
    expect(agent_page.locator("tr.shortcut-active")).to_have_attribute(
        "data-ticket", ticket.reference
    )
    agent_page.keyboard.press("o")
    agent_page.wait_for_url(f"**/tickets/{ticket.reference}/")

    # Opening the ticket marks its notification read; the bell follows.
    expect(agent_page.locator("#notification-bell .notification-count")).to_have_count(0)

    # --- presence: a second agent opens the same ticket ----------------------
    bruno = user_create(
        email="bruno@support.example", full_name="Bruno Barros", role="agent", password=PASSWORD
    )
    bruno_context = browser.new_context()
    bruno_page = bruno_context.new_page()
    log_in(bruno_page, server, bruno.email)
    bruno_page.goto(f"{server}/tickets/{ticket.reference}/")
    bruno_page.locator("#reply-form textarea[name='body']").click()
    expect(agent_page.locator("#ticket-presence")).to_contain_text("Bruno")
    expect(agent_page.locator("[data-presence-state='replying']")).to_be_visible()
    expect(bruno_page.locator("#ticket-presence")).to_contain_text("Ana")

    # --- status in place (htmx), no reload -----------------------------------
    agent_page.evaluate("() => { window.__noReload = true; }")
    agent_page.select_option("#ticket-properties select[name='status']", Status.IN_PROGRESS)
    expect(agent_page.locator("#ticket-properties [role='status']")).to_be_visible()
    assert agent_page.evaluate("() => window.__noReload === true")
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS

    # --- a draft survives leaving the page -----------------------------------
    box = agent_page.locator("#reply-form textarea[name='body']")
    agent_page.keyboard.press("r")
    expect(box).to_be_focused()
    # Typing stops; the debounced save goes out once, after the last key.
    with agent_page.expect_response(
        lambda r: r.url.endswith("/draft/") and r.request.method == "POST"
    ) as saved:
        box.press_sequentially("Olá Carla, trocamos o cartucho.")
    assert saved.value.status == 204
    agent_page.goto(f"{server}/tickets/")
    agent_page.goto(f"{server}/tickets/{ticket.reference}/")
    expect(box).to_have_value("Olá Carla, trocamos o cartucho.")

    # --- reply and set status resolved ---------------------------------------
    agent_page.select_option("#reply-form select[name='set_status']", Status.RESOLVED)
    agent_page.locator("#reply-send").click()
    agent_page.wait_for_load_state("networkidle")
    expect(agent_page.locator("#thread")).to_contain_text("trocamos o cartucho")
    expect(box).to_have_value("")  # the draft went with the reply

    # --- the customer's bell updates without a reload ------------------------
    page.goto(f"{server}/")
    page.evaluate("() => { window.__noReload = true; }")
    expect(page.locator("#notification-bell .notification-count")).to_have_text(
        re.compile(r"[1-9]")
    )
    assert page.evaluate("() => window.__noReload === true")

    # --- customer: "Was this solved?" -> confirm, then rate ------------------
    page.goto(f"{server}/tickets/{ticket.reference}/")
    expect(page.locator(".resolution-box")).to_be_visible()
    expect(page.locator("#ticket-presence")).to_have_count(0)  # never for customers
    page.locator(".resolution-box button.btn-success").click()
    page.wait_for_load_state("networkidle")
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    page.locator("label[for='score-5']").click()
    page.fill("#rating-comment", "Resolveram rapidinho, obrigada!")
    page.locator(".rating-box button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert (rating.score, rating.comment) == (5, "Resolveram rapidinho, obrigada!")

    # The agent sees the rating on the ticket.
    agent_page.reload()
    expect(agent_page.locator(".rating-score")).to_contain_text("5")

    for w in (watch, agent_watch):
        assert w.dialogs == [] and w.csp_violations == [] and w.foreign_requests == []
    for context in (agent_context, bruno_context):
        context.close()


def test_signed_feedback_link_works_without_logging_in(
    page: Page, server: str, watch: PageWatch, agent: Any, customer: Any, ticket: Ticket
) -> None:
    from helpdesk.feedback import feedback_path

    services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)
    page.goto(server + feedback_path(ticket_id=ticket.pk, user_id=customer.pk, action="reopen"))
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED  # looking at the page changed nothing
    page.fill("#reopen-comment", "Continua com erro de papel.")
    page.locator(".reopen-form button[type='submit']").click()
    expect(page.locator(".alert-success")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert watch.dialogs == [] and watch.csp_violations == [] and watch.foreign_requests == []


@pytest.mark.parametrize("who", ["agent", "customer"])
def test_phone_width_has_no_horizontal_overflow(
    page: Page, server: str, watch: PageWatch, ticket: Ticket, who: str, request: Any
) -> None:
    user = request.getfixturevalue(who)
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, server, user.email)
    for path in ("/", "/tickets/", f"/tickets/{ticket.reference}/", "/notifications/"):
        page.goto(server + path)
        page.wait_for_load_state("networkidle")
        assert no_horizontal_overflow(page), path
        expect(page.locator("h1").first).to_be_visible()
    # The reply box is reachable and usable on the phone.
    page.goto(f"{server}/tickets/{ticket.reference}/")
    expect(page.locator("#reply-form textarea[name='body']")).to_be_visible()
    # The nav is folded away, but the bell stays beside the menu button and
    # follows the polled count.
    page.goto(f"{server}/")
    compact = page.locator(".notification-bell-compact")
    expect(compact).to_be_visible()
    expect(page.locator("#notification-bell")).to_be_hidden()
    Notification.objects.create(recipient=user, ticket=ticket, kind=Notification.Kind.STATUS)
    expect(compact.locator(".notification-count")).to_be_visible()
    expect(compact).to_have_attribute(
        "data-unread", str(Notification.objects.filter(recipient=user, read_at=None).count())
    )
    assert watch.csp_violations == []


def test_a_background_tab_stops_polling_the_bell_and_catches_up_when_shown(
    page: Page, server: str, agent: Any, ticket: Ticket, login_as: Any
) -> None:
    login_as(agent)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/notifications/bell" in r.url else None)
    page.evaluate(
        "() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.wait_for_timeout(3500)  # three poll periods (1 s here) with the tab hidden
    assert polls == []
    services.ticket_reply_add(ticket=ticket, author=ticket.created_by, body="Ainda não funciona")
    page.evaluate(
        "() => { Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    expect(page.locator("#notification-bell .notification-count")).to_have_text("2")
    assert polls  # shown again: asked at once


def test_a_visitor_signs_up_verifies_and_opens_a_ticket_with_an_attachment(
    page: Page, server: str, watch: PageWatch, category: Category, tmp_path: Any
) -> None:
    from django.core import mail

    from outbound.delivery import deliver_due

    page.goto(f"{server}/accounts/signup/")
    page.fill("#id_full_name", "Bia Nova")
    page.fill("#id_email", "bia@nova.com.br")
    page.fill("#id_password", "um-cavalo-correto-42")
    page.locator("form.card button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/accounts/signup/done/")

    deliver_due()  # the worker's job: the verification mail leaves the outbox
    [verify] = [m for m in mail.outbox if m.to == ["bia@nova.com.br"]]
    link = re.search(r"https?://\S+/accounts/verify/\S+/", verify.body).group(0)  # type: ignore[union-attr]
    page.goto(server + "/accounts/verify/" + link.split("/accounts/verify/", 1)[1])
    page.locator("main form button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    log_in(page, server, "bia@nova.com.br", "um-cavalo-correto-42")

    attachment = tmp_path / "nota-fiscal.pdf"
    attachment.write_bytes(b"%PDF-1.4 nota fiscal de teste")
    page.goto(f"{server}/tickets/new/")
    page.select_option("#id_category", label=category.name)
    page.fill("#id_subject", "Boleto em duplicidade")
    page.fill("#id_description", "Recebi dois boletos; segue a nota fiscal.")
    page.set_input_files("#id_attachments", str(attachment))
    page.locator("#ticket-form button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    ticket = Ticket.objects.get(subject="Boleto em duplicidade")
    assert ticket.created_by.email == "bia@nova.com.br" and ticket.created_by.email_verified
    assert [a.original_name for a in ticket.attachments.all()] == ["nota-fiscal.pdf"]
    expect(page.locator("body")).to_contain_text(ticket.reference)
    expect(page.locator("body")).to_contain_text("nota-fiscal.pdf")
    assert watch.dialogs == [] and watch.csp_violations == [] and watch.foreign_requests == []

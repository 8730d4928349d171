from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.feedback import feedback_path
from helpdesk.models import SatisfactionRating
from helpdesk.resolution import ResolutionError, rating_submit, satisfaction_summary
from tickets import services
from tickets.models import Message, Ticket
from tickets.states import Status


@pytest.fixture
def resolved(ticket: Ticket, agent: Any) -> Ticket:
    services.ticket_reply_add(ticket=ticket, author=agent, body="Trocamos o toner.")
    return services.ticket_transition(ticket=ticket, to=Status.RESOLVED, actor=agent)


def link(ticket: Ticket, user: Any, action: str) -> str:
    return feedback_path(ticket_id=ticket.pk, user_id=user.pk, action=action)


def test_signed_confirm_link_shows_a_page_on_get_and_acts_only_on_post(
    resolved: Ticket, customer: Any
) -> None:
    client = Client(enforce_csrf_checks=True)
    url = link(resolved, customer, "confirm")
    page = client.get(url)
    assert page.status_code == 200
    resolved.refresh_from_db()
    assert resolved.status == Status.RESOLVED  # GET never acts
    # Without the CSRF token the POST is refused.
    assert client.post(url).status_code == 403
    token = client.cookies["csrftoken"].value
    done = client.post(url, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    resolved.refresh_from_db()
    assert resolved.status == Status.CLOSED
    # The rating form is offered right away, behind its own signed link.
    assert 'name="score"' in done.content.decode()
    assert "_auth_user_id" not in client.session  # nobody was logged in


def test_signed_reopen_link_posts_the_comment_as_a_reply(
    client: Client, resolved: Ticket, customer: Any
) -> None:
    url = link(resolved, customer, "reopen")
    assert client.post(url, {"comment": ""}).status_code == 400
    client.post(url, {"comment": "A impressora parou de novo."})
    resolved.refresh_from_db()
    assert resolved.status == Status.OPEN
    last = resolved.messages.last()
    assert last is not None
    assert (last.kind, last.author, last.body) == (
        Message.Kind.REPLY,
        customer,
        "A impressora parou de novo.",
    )


def test_signed_rate_link_rates_once(client: Client, resolved: Ticket, customer: Any) -> None:
    services.ticket_transition(ticket=resolved, to=Status.CLOSED, actor=customer)
    url = link(resolved, customer, "rate")
    assert client.post(url, {"score": "9"}).status_code == 400
    assert client.post(url, {"score": "4", "comment": "Rápido!"}).status_code == 200
    rating = SatisfactionRating.objects.get(ticket=resolved)
    assert (rating.score, rating.comment, rating.user) == (4, "Rápido!", customer)
    assert client.post(url, {"score": "1"}).status_code == 400
    assert SatisfactionRating.objects.get(ticket=resolved).score == 4


@pytest.mark.parametrize("token", ["nope", "x" * 80])
def test_forged_tokens_are_404(client: Client, db: Any, token: str) -> None:
    assert client.get(reverse("ticket_feedback", args=[token])).status_code == 404


def test_a_token_for_someone_who_is_not_the_requester_is_404(
    client: Client, resolved: Ticket, other_customer: Any
) -> None:
    assert client.get(link(resolved, other_customer, "confirm")).status_code == 404


def test_confirm_link_on_an_open_ticket_does_nothing(
    client: Client, ticket: Ticket, customer: Any
) -> None:
    response = client.post(link(ticket, customer, "confirm"))
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_reopen_after_the_window_is_refused(
    client: Client, resolved: Ticket, customer: Any, settings: Any
) -> None:
    services.ticket_transition(ticket=resolved, to=Status.CLOSED, actor=customer)
    Ticket.objects.filter(pk=resolved.pk).update(closed_at=timezone.now() - timedelta(days=30))
    settings.HELPDESK_REOPEN_WINDOW_DAYS = 14
    client.post(link(resolved, customer, "reopen"), {"comment": "De novo"})
    resolved.refresh_from_db()
    assert resolved.status == Status.CLOSED


def test_from_the_ticket_page_when_logged_in(
    client: Client, resolved: Ticket, customer: Any, other_customer: Any, login: Any
) -> None:
    login(client, other_customer)
    url = reverse("ticket_confirm", args=[resolved.reference])
    assert client.post(url).status_code == 404
    login(client, customer)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    resolved.refresh_from_db()
    assert resolved.status == Status.CLOSED
    client.post(reverse("ticket_rate", args=[resolved.reference]), {"score": "5"})
    assert SatisfactionRating.objects.get(ticket=resolved).score == 5
    client.post(reverse("ticket_reopen", args=[resolved.reference]), {"comment": "Voltou"})
    resolved.refresh_from_db()
    assert resolved.status == Status.OPEN


def test_staff_cannot_rate_for_the_customer(resolved: Ticket, agent: Any) -> None:
    with pytest.raises(ResolutionError):
        rating_submit(ticket=resolved, user=agent, score=5)


def test_satisfaction_summary_and_manager_report(
    client: Client, resolved: Ticket, customer: Any, manager: Any, agent: Any, login: Any
) -> None:
    services.ticket_transition(ticket=resolved, to=Status.CLOSED, actor=customer)
    rating_submit(ticket=resolved, user=customer, score=5, comment="Ótimo atendimento")
    summary = satisfaction_summary()
    assert (summary["count"], summary["average"], summary["satisfied_percent"]) == (1, 5.0, 100)
    login(client, agent)
    assert client.get(reverse("satisfaction_report")).status_code == 404
    login(client, manager)
    page = client.get(reverse("satisfaction_report")).content.decode()
    assert "Ótimo atendimento" in page


def test_a_rating_link_on_a_resolved_ticket_offers_to_confirm_first(
    client: Client, resolved: Ticket, customer: Any
) -> None:
    import re

    page = client.get(link(resolved, customer, "rate")).content.decode()
    assert 'name="score"' not in page
    actions = re.findall(r'action="(/feedback/[^"]+)"', page)
    assert len(actions) == 1  # the confirm form, behind its own signed link
    done = client.post(actions[0]).content.decode()
    resolved.refresh_from_db()
    assert resolved.status == Status.CLOSED
    assert 'name="score"' in done

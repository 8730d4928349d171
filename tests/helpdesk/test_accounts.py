from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from helpdesk.accounts import customer_get_or_create
from helpdesk.models import User
from outbound.delivery import deliver_due
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sent() -> list[Any]:
    """Account mails go through the outbox: deliver it (the worker's job) first."""
    deliver_due()
    return list(mail.outbox)


def link_in(message: Any) -> str:
    return re.search(r"https?://\S+", message.body).group(0)  # type: ignore[union-attr]


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_signup_verify_then_open_a_ticket(category: Any) -> None:
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"full_name": "Bia Nova", "email": "Bia@Nova.com", "password": "um-cavalo-correto-42"},
    )
    assert response["Location"] == "/accounts/signup/done/"
    user = User.objects.get(email="bia@nova.com")
    assert not user.email_verified and user.role == "customer"
    [verify] = sent()
    assert verify.to == ["bia@nova.com"]
    link = path_of(link_in(verify))
    # GET only shows a button: mail scanners that fetch links verify nothing.
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert not user.email_verified
    client.post(link)
    user.refresh_from_db()
    assert user.email_verified
    assert client.login(username="bia@nova.com", password="um-cavalo-correto-42")
    client.post(
        "/tickets/new/",
        {"priority": "low", "subject": "Primeiro", "description": "Meu primeiro chamado aqui."},
    )
    assert user.tickets_requested.count() == 1


def test_signup_with_a_known_address_looks_the_same_and_mails_the_owner(customer: Any) -> None:
    response = Client().post(
        "/accounts/signup/",
        {"full_name": "Intruso", "email": customer.email, "password": "um-cavalo-correto-42"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/done/"
    assert User.objects.filter(email=customer.email).count() == 1
    [told] = sent()
    assert told.to == [customer.email] and "/accounts/password/reset/" in told.body
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_signup_validates_the_password() -> None:
    response = Client().post(
        "/accounts/signup/", {"full_name": "X", "email": "x@y.com", "password": "123"}
    )
    assert response.status_code == 200 and not User.objects.filter(email="x@y.com").exists()


def test_forged_or_stale_verification_links_fail(customer: Any) -> None:
    from helpdesk.verification import make_token

    assert Client().get("/accounts/verify/forged/").status_code == 400
    token = make_token(customer)
    customer.email = "changed@x.com"
    customer.save()
    assert Client().post(f"/accounts/verify/{token}/").status_code == 400


def test_password_reset_is_identical_for_known_and_unknown_addresses(customer: Any) -> None:
    known = Client().post("/accounts/password/reset/", {"email": customer.email})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@nowhere.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(sent()) == 1

    # Byte-identical apart from the per-request masked CSRF token.
    def page(location: str) -> str:
        text = Client().get(location).content.decode()
        text = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", text)  # language switcher
        return re.sub(r'"X-CSRFToken": "\w+"', "", text)

    assert page(known["Location"]) == page(unknown["Location"])


def test_a_mail_customer_claims_the_account_with_forgot_password() -> None:
    user = customer_get_or_create(email="mail-only@cliente.com", full_name="Só Email")
    assert not user.has_usable_password()
    client = Client()
    client.post("/accounts/password/reset/", {"email": "mail-only@cliente.com"})
    [reset] = sent()
    link = path_of(link_in(reset))
    assert link.startswith("/accounts/reset/")
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    client.post(
        form_url, {"new_password1": "senha-nova-segura-9", "new_password2": "senha-nova-segura-9"}
    )
    user.refresh_from_db()
    assert user.check_password("senha-nova-segura-9") and user.email_verified


def test_reset_mails_are_rate_limited(customer: Any) -> None:
    for _ in range(5):
        Client().post("/accounts/password/reset/", {"email": customer.email})
    assert len(sent()) == 3


def test_login_locks_after_repeated_failures(customer: Any) -> None:
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": customer.email, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": customer.email, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_login_failures_count_across_web_processes(customer: Any, settings: Any) -> None:
    """Several gunicorn workers each hold their own cache object: the counter
    lives in files they share, so failures spread over them still lock."""
    from django.core.cache.backends.filebased import FileBasedCache

    config = settings.CACHES["default"]
    other_worker = FileBasedCache(config["LOCATION"], config.get("OPTIONS", {}))
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": customer.email, "password": "wrong"})
    key = f"helpdesk:login-failures:{customer.email}:127.0.0.1"
    assert other_worker.get(key) == 5


def test_login_rotates_the_session_and_logout_needs_post(customer: Any) -> None:
    client = Client()
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    response = client.post(
        "/accounts/login/", {"username": customer.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_profile_saves_only_its_own_fields(customer: Any, customer_client: Client) -> None:
    response = customer_client.post(
        "/accounts/profile/",
        {
            "full_name": "Carla C.",
            "language": "en",
            "time_zone": "Europe/Lisbon",
            "signature": "x",
            "role": "admin",
            "is_staff": "on",
            "email": "evil@x.com",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.full_name, customer.language, customer.time_zone) == (
        "Carla C.",
        "en",
        "Europe/Lisbon",
    )
    assert (
        customer.role == "customer"
        and not customer.is_staff
        and customer.email == "carla@cliente.com.br"
    )
    assert customer.signature == ""  # customers have no signature field


def test_agents_edit_their_signature(agent: Any, agent_client: Client) -> None:
    agent_client.post(
        "/accounts/profile/",
        {
            "full_name": "Ana",
            "language": "pt-br",
            "time_zone": "America/Sao_Paulo",
            "signature": "Ana — Suporte",
        },
    )
    agent.refresh_from_db()
    assert agent.signature == "Ana — Suporte"


def test_profile_language_and_time_zone_apply(
    customer: Any, customer_client: Client, ticket: Any
) -> None:
    customer.language, customer.time_zone = "en", "Asia/Tokyo"
    customer.save()
    page = customer_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert 'lang="en"' in page and "Add a reply" in page
    stamp = ticket.created_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).isoformat()[
        :16
    ]
    assert stamp in page


def test_password_change_needs_the_current_password(customer: Any, customer_client: Client) -> None:
    customer_client.post(
        "/accounts/password/change/",
        {
            "old_password": "wrong",
            "new_password1": "outra-senha-boa-1",
            "new_password2": "outra-senha-boa-1",
        },
    )
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)
    customer_client.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "outra-senha-boa-1",
            "new_password2": "outra-senha-boa-1",
        },
    )
    customer.refresh_from_db()
    assert customer.check_password("outra-senha-boa-1")


def test_a_new_account_is_in_exactly_its_role_group() -> None:
    from helpdesk.accounts import user_create

    customer = customer_get_or_create(email="Nova@Cliente.com.br", full_name="Nova")
    agent = user_create(email="ag@support.example", role="agent", password="x-y-z-123456")
    assert list(customer.groups.values_list("name", flat=True)) == ["role:customer"]
    assert list(agent.groups.values_list("name", flat=True)) == ["role:agent"]
    assert User.objects.get(pk=agent.pk).role == "agent"
    with pytest.raises(ValueError):
        user_create(email="x@support.example", role="wizard")
    assert not User.objects.filter(email="x@support.example").exists()


def test_account_mails_wait_in_the_outbox_without_a_usable_link(settings: Any) -> None:
    # A relay that is down: the sign-up still succeeds, the mail waits to be retried.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    response = Client().post(
        "/accounts/signup/",
        {"full_name": "Caio", "email": "caio@novo.com", "password": "um-cavalo-correto-42"},
    )
    assert response.status_code == 302
    from outbound.models import OutboxItem

    row = OutboxItem.objects.get(event="verify-email")
    assert row.recipient == "caio@novo.com"
    assert set(row.payload) == {"account", "user_id", "to"}  # no signed link stored
    deliver_due()
    row.refresh_from_db()
    assert row.status == OutboxItem.Status.PENDING and row.attempts == 1  # retried later


def test_an_agent_chooses_which_notices_come_by_mail(agent: Any, agent_client: Client) -> None:
    from outbound import preferences
    from outbound.models import NotificationOptOut

    page = agent_client.get("/accounts/profile/").content.decode()
    assert page.count('name="email_notices"') == 7  # every agent notice, all on at first
    assert page.count("checked") >= 7
    response = agent_client.post(
        "/accounts/profile/",
        {
            "full_name": agent.full_name,
            "language": "pt-br",
            "time_zone": "America/Sao_Paulo",
            "signature": "Ana",
            "email_notices": ["assigned", "customer_reply"],
        },
    )
    assert response.status_code == 302
    assert preferences.receiving(agent) == {"assigned", "customer_reply"}
    assert set(NotificationOptOut.objects.filter(user=agent).values_list("event", flat=True)) == {
        "new_ticket",
        "note_added",
        "reopened",
        "urgent",
        "sla_warning",
    }


def test_a_customer_has_no_notice_choices(customer_client: Client) -> None:
    assert "email_notices" not in customer_client.get("/accounts/profile/").content.decode()

from typing import Any

from django.test import Client
from django.urls import reverse


def test_signed_in_user_language_is_remembered_on_the_account(
    client: Client, agent: Any, login: Any
) -> None:
    login(client, agent)
    response = client.post(reverse("language_set"), {"language": "en", "next": "/notifications/"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    agent.refresh_from_db()
    assert agent.language == "en"
    assert "Notifications" in client.get("/notifications/").content.decode()


def test_anonymous_visitor_gets_the_cookie(client: Client, db: Any) -> None:
    response = client.post(reverse("language_set"), {"language": "en", "next": "/"})
    assert response.cookies["django_language"].value == "en"


def test_unknown_language_and_foreign_next_are_ignored(
    client: Client, agent: Any, login: Any
) -> None:
    login(client, agent)
    response = client.post(
        reverse("language_set"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert "evil.example" not in response.get("Location", "")
    agent.refresh_from_db()
    assert agent.language == "pt-br"


def test_language_switch_needs_post(client: Client, db: Any) -> None:
    assert client.get(reverse("language_set")).status_code == 405

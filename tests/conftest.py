"""Shared actors and switches for the whole suite."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from tickets import services
from tickets.models import Category, Team, Ticket

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings: Any, tmp_path: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def team(db: Any) -> Team:
    return Team.objects.create(name="Suporte")


@pytest.fixture
def category(team: Team) -> Category:
    return Category.objects.create(name="Dúvidas", default_team=team)


@pytest.fixture
def customer(db: Any) -> Any:
    return user_create(
        email="carla@cliente.com.br",
        full_name="Carla Cliente",
        role=Role.CUSTOMER,
        password=PASSWORD,
    )


@pytest.fixture
def other_customer(db: Any) -> Any:
    return user_create(
        email="otto@outra.com.br", full_name="Otto Outro", role=Role.CUSTOMER, password=PASSWORD
    )


@pytest.fixture
def agent(team: Team) -> Any:
    user = user_create(
        email="ana@support.example", full_name="Ana Agente", role=Role.AGENT, password=PASSWORD
    )
    team.members.add(user)
    return user


@pytest.fixture
def manager(db: Any) -> Any:
    return user_create(
        email="mario@support.example",
        full_name="Mário Gerente",
        role=Role.MANAGER,
        password=PASSWORD,
    )


@pytest.fixture
def admin_user(db: Any) -> Any:
    return user_create(
        email="root@support.example", full_name="Ada Admin", role=Role.ADMIN, password=PASSWORD
    )


@pytest.fixture
def ticket(customer: Any, category: Category) -> Ticket:
    return services.ticket_create(
        requester=customer,
        subject="Impressora não imprime",
        body="Desde ontem a impressora não funciona.",
        category=category,
    )

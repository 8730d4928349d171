"""Actors for the API tests: a client per actor, signed in by token."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from helpdesk.api.tokens import token_create, token_revoke


@pytest.fixture(autouse=True)
def _fresh_rate_counters() -> None:
    # The throttle counts in the default cache, which outlives a test's
    # database: a user id reused by the next test must start from zero.
    cache.clear()


def token_client(user: Any, **kwargs: Any) -> Client:
    _token, secret = token_create(user=user, name="tests", **kwargs)
    return Client(headers={"authorization": f"Bearer {secret}"})


def revoked_client(user: Any) -> Client:
    token, secret = token_create(user=user, name="revoked")
    token_revoke(token=token)
    return Client(headers={"authorization": f"Bearer {secret}"})


def expired_client(user: Any) -> Client:
    past = timezone.now() - datetime.timedelta(minutes=1)
    return token_client(user, expires_at=past)


@pytest.fixture
def customer_api(customer: Any) -> Client:
    return token_client(customer)


@pytest.fixture
def agent_api(agent: Any) -> Client:
    return token_client(agent)


@pytest.fixture
def manager_api(manager: Any) -> Client:
    return token_client(manager)

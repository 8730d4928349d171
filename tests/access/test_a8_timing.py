"""A8 (issue 16), the timing half: password reset and sign-up take as long
for an address that has an account as for one that has none.

The content half (the same redirect and byte-identical pages, the owner told
by mail instead) is tests/helpdesk/test_accounts.py:
test_password_reset_is_identical_for_known_and_unknown_addresses and
test_signup_with_a_known_address_looks_the_same_and_mails_the_owner. The
resend-verification endpoint needs a signed-in user (login_required), so it
cannot be asked about someone else's address and is not timed here.

The test suite hashes passwords with MD5 for speed; here the production
hashers (Django's defaults: config.settings sets none) are back, because the
leak this looks for is a password hash done on one path only. Samples
alternate known/unknown (which one goes first alternates too), after a
warm-up; the cache is cleared before each, so the reset-mail limit never
turns the known path into the quiet one. The medians must be in the same
class: no further apart than 60% of the larger one, or 50 ms, whichever is
more (a password hash is hundreds of ms; an INSERT is a few).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import global_settings
from django.core.cache import cache
from django.test import Client

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from tests.access.timing import same_class, stats

pytestmark = pytest.mark.django_db

PASSWORD = "um-cavalo-correto-42"
RATIO = 0.6
FLOOR = 0.050  # seconds


def sample(post: Callable[[], Any]) -> float:
    cache.clear()
    start = time.perf_counter()
    response = post()
    elapsed = time.perf_counter() - start
    assert response.status_code == 302, response.status_code
    return elapsed


def alternate(
    known: Callable[[], Any], unknown: Callable[[], Any], pairs: int
) -> tuple[list[float], list[float]]:
    for _warm_up in range(2):
        sample(known)
        sample(unknown)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for index in range(pairs):
        order = [("known", known), ("unknown", unknown)]
        for name, post in order if index % 2 == 0 else reversed(order):
            times[name].append(sample(post))
    return times["known"], times["unknown"]


@pytest.fixture
def production_hasher(settings: Any) -> Any:
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return user_create(
        email="carla@cliente.com.br", full_name="Carla", role=Role.CUSTOMER, password=PASSWORD
    )


def test_sign_up_takes_as_long_for_a_known_address(
    production_hasher: Any, scale: Any, figures: Any
) -> None:
    client = Client()
    fresh = iter(range(10**6))

    def known() -> Any:
        data = {"full_name": "Intruso", "email": production_hasher.email, "password": PASSWORD}
        return client.post("/accounts/signup/", data)

    def unknown() -> Any:
        data = {"full_name": "Nova", "email": f"nova{next(fresh)}@x.com", "password": PASSWORD}
        return client.post("/accounts/signup/", data)

    known_times, unknown_times = alternate(known, unknown, scale(6, 40))
    figures(
        {
            "case": "sign-up",
            "hasher": global_settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1],
            "samples_each": len(known_times),
            "known": stats(known_times),
            "unknown": stats(unknown_times),
        }
    )
    assert same_class(known_times, unknown_times, ratio=RATIO, floor=FLOOR), (
        stats(known_times),
        stats(unknown_times),
    )


def test_password_reset_takes_as_long_for_a_known_address(
    production_hasher: Any, scale: Any, figures: Any
) -> None:
    client = Client()

    def known() -> Any:
        return client.post("/accounts/password/reset/", {"email": production_hasher.email})

    def unknown() -> Any:
        return client.post("/accounts/password/reset/", {"email": "nobody@nowhere.com"})

    known_times, unknown_times = alternate(known, unknown, scale(20, 200))
    figures(
        {
            "case": "password reset",
            "samples_each": len(known_times),
            "known": stats(known_times),
            "unknown": stats(unknown_times),
        }
    )
    assert same_class(known_times, unknown_times, ratio=RATIO, floor=FLOOR), (
        stats(known_times),
        stats(unknown_times),
    )

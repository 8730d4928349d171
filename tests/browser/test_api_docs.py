"""The API docs (/api/docs/) in a real browser: Swagger UI starts from our
own static files under the project's CSP, with no violation and no request
to another host, and lists the operations of /api/schema/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import PageWatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_runs_under_the_csp(page: Page, server: str, watch: PageWatch) -> None:
    page.goto(f"{server}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/tickets/" in p for p in paths)
    assert watch.csp_violations == []
    assert watch.foreign_requests == []
    assert watch.dialogs == []


def test_a_signed_in_browser_calls_the_api_with_its_session(
    page: Page, server: str, customer: Any, login_as: Any
) -> None:
    login_as(customer)
    page.goto(f"{server}/api/v1/me/")
    assert customer.email in page.content()

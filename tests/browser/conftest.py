"""Real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against pytest-django's live_server. One browser for the whole session; each
test gets a fresh context (cookies) from pytest-playwright.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.signals import request_finished, request_started
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request

from tests.conftest import PASSWORD
from tests.programs import locate

# Playwright's sync API runs an event loop in this thread; the Django ORM calls
# the tests make between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("HELPDESK_CHROMIUM") or locate("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# Every test here is marked `browser`: tests/conftest.py skips it when Chromium
# is missing (or fails it when CI is set), before live_server or the browser start.


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 900},
        "locale": "pt-BR",
        "timezone_id": "America/Sao_Paulo",
    }


@pytest.fixture
def server(live_server: Any) -> str:
    return str(live_server.url)


class _InFlight:
    """Requests the live server is handling now (Django's request signals)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def started(self, **_kwargs: Any) -> None:
        with self.lock:
            self.count += 1

    def finished(self, **_kwargs: Any) -> None:
        with self.lock:
            self.count -= 1

    def wait_idle(self, *, quiet: float = 0.3, limit: float = 10.0) -> None:
        """Until no request has run for `quiet` seconds (bounded by `limit`)."""
        deadline = time.monotonic() + limit
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.count > 0:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= quiet:
                return
            time.sleep(0.02)


_in_flight = _InFlight()
request_started.connect(_in_flight.started, dispatch_uid="browser-tests-in-flight")
request_finished.connect(_in_flight.finished, dispatch_uid="browser-tests-in-flight")


@pytest.fixture(autouse=True)
def _live_server_settles() -> Iterator[None]:
    """After the test's page is closed, let the live server finish what the page
    last asked (a poll, a presence beat) before the database is flushed: a
    request still in its transaction deadlocks PostgreSQL's TRUNCATE."""
    yield
    _in_flight.wait_idle()


@dataclass
class PageWatch:
    """Everything a page did that it should not have: dialogs (alert/confirm/
    prompt: an executed payload), CSP violations reported on the console, and
    requests to any host but ours."""

    origin_host: str
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_violations.append(text)
        elif message.type == "error":
            self.errors.append(text)

    def on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob", "about"}:
            return
        if parts.hostname != self.origin_host:
            self.foreign_requests.append(request.url)


@pytest.fixture
def watch(page: Page, server: str) -> Iterator[PageWatch]:
    watcher = PageWatch(origin_host=urlsplit(server).hostname or "127.0.0.1")
    page.on("dialog", watcher.on_dialog)
    page.on("console", watcher.on_console)
    page.on("request", watcher.on_request)
    # Belt and braces: a script that does run gets caught even if it never opens a dialog.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " console.error('Content Security Policy violation: ' + e.violatedDirective"
        " + ' ' + e.blockedURI); });"
    )
    yield watcher


def log_in(page: Page, server: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name='username']", email)
    page.fill("input[name='password']", password)
    page.locator("form button[type='submit'], form input[type='submit']").last.click()
    page.wait_for_load_state("networkidle")


@pytest.fixture
def login_as(page: Page, server: str) -> Any:
    def _login(user: Any) -> Page:
        log_in(page, server, user.email)
        return page

    return _login

"""Shared actors and switches for the whole suite."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pytest

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from tests.programs import PROGRAMS, missing
from tests.proof import (  # noqa: F401 (the proof suites' switches: --heavy, scale, figures)
    figures,
    pytest_addoption,
    pytest_terminal_summary,
    scale,
)
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


# System programs (Dovecot, Chromium, pg_dump, msgfmt): tests/programs.py lists
# them with their Debian packages. A test that needs one is marked
# requires_program(name) (or uses a fixture that starts it, see
# PROGRAM_FIXTURES) and is checked here, once, before its fixtures start: when
# the program is missing it is skipped, or fails when CI is set, so a broken
# install step in .ci/run cannot turn into a green run that tested less.

PROGRAM_FIXTURES = {"dovecot": "dovecot", "page": "chromium", "context": "chromium"}
PROGRAM_MARKERS = {"browser": "chromium"}
_MISSING = re.compile(r"missing program ([\w-]+):")


def in_ci() -> bool:
    """CI is set (CI=true in CI; CI=, 0, false, no or off do not count)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}


def missing_program_message(name: str) -> str:
    program = PROGRAMS[name]
    return (
        f"missing program {name}: {', '.join(missing(name))} not found; it runs "
        f"{program.used_by}. Debian: {program.install} (or `make test-deps`)"
    )


def require_program(name: str) -> None:
    """Skip the current test when program `name` is missing (fail when CI is set)."""
    if missing(name):
        if in_ci():
            pytest.fail(f"{missing_program_message(name)} [CI is set: no skipping]", pytrace=False)
        pytest.skip(missing_program_message(name))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures: list[str] = getattr(item, "fixturenames", [])
        needed = {PROGRAM_FIXTURES[f] for f in fixtures if f in PROGRAM_FIXTURES}
        needed |= {p for m, p in PROGRAM_MARKERS.items() if item.get_closest_marker(m)}
        for name in sorted(needed):
            item.add_marker(pytest.mark.requires_program(name))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires_program"):
        require_program(*marker.args)


_missing_counts: dict[str, Counter[str]] = {"skipped": Counter(), "failed": Counter()}
_session_ran: list[bool] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        _session_ran.append(not session.config.option.collectonly)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        text, outcome = str(report.longrepr[2]), "skipped"
    elif report.failed:
        text, outcome = report.longreprtext, "failed"
    else:
        return
    found = _MISSING.search(text)
    if found and found.group(1) in PROGRAMS:
        _missing_counts[outcome][found.group(1)] += 1


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's last line: what was skipped (or failed) for a missing program."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput") or not any(_session_ran):
        return
    lines = []
    for outcome, counts in _missing_counts.items():
        if counts:
            what = "; ".join(
                f"{name}, {n} test{'s' if n > 1 else ''} ({PROGRAMS[name].install})"
                for name, n in sorted(counts.items())
            )
            why = " (CI is set)" if outcome == "failed" else ""
            lines.append(f"{outcome.capitalize()} for a missing program{why}: {what}")
    if lines:
        line = ". ".join(lines) + ". `make test-deps` installs them all."
    else:
        line = "Nothing was skipped for a missing program."
    reporter.write_line(line, bold=bool(lines), yellow=bool(lines) and not in_ci())

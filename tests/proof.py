"""Switches shared by the proof suites of issue 16 (tests/faults, tests/abuse,
tests/access): light by default, `--heavy` (or HELPDESK_FAULTS_HEAVY=1) for the
sizes docs/PROOF.md reports, and each test's figures printed at the end of the
run, one line per test, so the numbers in docs/PROOF.md come from a run.

tests/conftest.py imports the hooks and fixtures below.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy",
        action="store_true",
        default=False,
        help="proof suites (tests/faults, tests/abuse, tests/access): the full sizes",
    )


def is_heavy(config: pytest.Config) -> bool:
    env = os.environ.get("HELPDESK_FAULTS_HEAVY", "").strip().lower()
    return bool(config.getoption("heavy", default=False)) or env in {"1", "true", "yes"}


class Scale:
    def __init__(self, heavy: bool) -> None:
        self.heavy = heavy

    def __call__(self, light: int, heavy: int) -> int:
        return heavy if self.heavy else light


@pytest.fixture
def scale(request: pytest.FixtureRequest) -> Scale:
    """scale(light, heavy): the size for this run."""
    return Scale(is_heavy(request.config))


@pytest.fixture
def figures(record_property: Any) -> Any:
    """Record a test's figures (a dict), shown at the end of the run."""

    def record(values: dict[str, Any]) -> None:
        record_property("figures", json.dumps(values, sort_keys=True))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "figures":
                    lines.append(f"{report.nodeid} [{outcome}] {value}")
    if lines:
        terminalreporter.section("proof-suite figures")
        for line in lines:
            terminalreporter.write_line(line)

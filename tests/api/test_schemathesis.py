"""A short property-based run of the API against its own schema
(schemathesis): generated requests to every operation, as an agent, must
never make a server error and must answer what the schema says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import token_client
from tickets.models import Ticket


@pytest.fixture
def api_schema(db: Any) -> Iterator[Any]:
    from config.wsgi import application

    # As Django's test client does: a request must not close the test's
    # database connection (its transaction is the test's isolation).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_the_api_answers_as_its_schema_says(api_schema: Any, agent: Any, ticket: Ticket) -> None:
    # Hypothesis driven by hand: schemathesis' pytest plugin does not load
    # under this pytest.
    secret = token_client(agent).defaults["HTTP_AUTHORIZATION"]
    checks = [schemathesis.checks.not_a_server_error, response_schema_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            if "reference" in (case.path_parameters or {}):
                case.path_parameters["reference"] = ticket.reference
            response = case.call_and_validate(headers={"Authorization": secret}, checks=checks)
            statuses.append(response.status_code)

        check()
    # Every operation was called, and some calls got through validation.
    assert len(statuses) >= len(operations)
    assert any(200 <= s < 300 for s in statuses)

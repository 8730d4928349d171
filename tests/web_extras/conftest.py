from typing import Any

import pytest
from django.test import Client

from tests.conftest import PASSWORD


@pytest.fixture
def login() -> Any:
    def _login(client: Client, user: Any) -> Client:
        assert client.login(email=user.email, password=PASSWORD)
        return client

    return _login

from typing import Any

import pytest


@pytest.mark.django_db
def test_it_renders_every_main_page(
    agent_client: Any, customer_client: Any, manager_client: Any, full_ticket: Any
) -> None:
    for client in (agent_client, customer_client, manager_client):
        for url in (
            "/",
            "/tickets/",
            "/tickets/new/",
            f"/tickets/{full_ticket.reference}/",
            "/accounts/profile/",
        ):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

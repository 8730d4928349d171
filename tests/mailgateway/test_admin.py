"""The quarantine in the admin: list, verdict, raw download, re-process, discard,
move and split."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests.conftest import PASSWORD
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:mailgateway_inboundmessage_changelist"


@pytest.fixture
def admin_client_(admin_user: Any) -> Client:
    client = Client()
    assert client.login(email=admin_user.email, password=PASSWORD)
    return client


@pytest.fixture
def quarantined(settings: Any) -> InboundMessage:
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["elsewhere.example"]
    result = ingest_raw_email(make_mail(subject="<b>Quarentena</b>"), door="pipe")
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    return InboundMessage.objects.get(pk=result.inbound_id)


def test_admins_see_the_quarantine_with_error_and_verdict(
    admin_client_: Client, quarantined: InboundMessage
) -> None:
    page = admin_client_.get(reverse(CHANGELIST), {"outcome__exact": "quarantined"})
    assert page.status_code == 200
    assert b"sender domain not allowed" in page.content
    assert b"<b>Quarentena</b>" not in page.content  # escaped
    detail = admin_client_.get(
        reverse("admin:mailgateway_inboundmessage_change", args=[quarantined.pk])
    )
    assert detail.status_code == 200
    assert b"sender domain not allowed" in detail.content
    assert b"&quot;class&quot;: &quot;person&quot;" in detail.content


def test_the_raw_mail_downloads_as_an_attachment(
    admin_client_: Client, quarantined: InboundMessage, _raw_dir: Any
) -> None:
    response = admin_client_.get(
        reverse("admin:mailgateway_inboundmessage_raw", args=[quarantined.pk])
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == (_raw_dir / quarantined.raw_path).read_bytes()


def test_customers_and_agents_cannot_download_raw_mail(
    client: Client, customer: Any, agent: Any, quarantined: InboundMessage
) -> None:
    url = reverse("admin:mailgateway_inboundmessage_raw", args=[quarantined.pk])
    assert client.get(url).status_code == 302  # to the admin login
    for user in (customer, agent):
        client.force_login(user)
        assert client.get(url).status_code in {302, 403}


def test_reprocess_and_discard_actions(admin_client_: Client, quarantined: InboundMessage) -> None:
    url = reverse(CHANGELIST)
    response = admin_client_.post(
        url, {"action": "reprocess_selected", "_selected_action": [quarantined.pk]}
    )
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.outcome == "created" and quarantined.ticket is not None

    second = InboundMessage.objects.get(pk=ingest_raw_email(b"\x00broken", door="pipe").inbound_id)
    assert second.outcome == "quarantined"  # no usable From address
    admin_client_.post(url, {"action": "discard_selected", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.outcome == "discarded"


def test_move_and_split_actions(admin_client_: Client, customer: Any) -> None:
    target = services.ticket_create(requester=customer, subject="Alvo", body="x")
    row = InboundMessage.objects.get(pk=ingest_raw_email(make_mail(), door="pipe").inbound_id)
    url = reverse(CHANGELIST)
    form = admin_client_.post(url, {"action": "move_to_ticket", "_selected_action": [row.pk]})
    assert form.status_code == 200 and b"reference" in form.content
    admin_client_.post(
        url,
        {
            "action": "move_to_ticket",
            "_selected_action": [row.pk],
            "apply": "1",
            "reference": target.reference,
        },
    )
    row.refresh_from_db()
    assert row.ticket == target and row.entry is not None and row.entry.ticket == target

    admin_client_.post(url, {"action": "split_selected", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.ticket is not None and row.ticket.linked_to == target
    assert Ticket.objects.count() == 3

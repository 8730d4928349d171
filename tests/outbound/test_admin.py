"""The admin side: failed items with retry, bounces with clear, switches,
template overrides with preview, webhook history with a test event; and
bounces reported by an ESP's tracking webhook."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from outbound.bounces import is_bouncing, mark_bouncing
from outbound.delivery import deliver_due
from outbound.models import EmailTemplate, OutboxItem, WebhookEndpoint
from tickets import services

from .conftest import SMTPCapture


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_failed_items_show_their_error_and_can_be_retried(
    admin_client: Client, smtp_server: SMTPCapture, ticket: Any, settings: Any
) -> None:
    settings.HELPDESK_OUTBOX_MAX_ATTEMPTS = 1
    smtp_server.stop()
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == "failed"
    page = admin_client.get(
        reverse("admin:outbound_outboxitem_changelist") + "?status__exact=failed"
    )
    assert page.status_code == 200 and "Connection" in page.content.decode()
    detail = admin_client.get(reverse("admin:outbound_outboxitem_change", args=[item.pk]))
    assert detail.status_code == 200 and item.message_id in detail.content.decode()

    smtp_server.start()
    response = admin_client.post(
        reverse("admin:outbound_outboxitem_changelist"),
        {"action": "retry_selected", "_selected_action": [item.pk]},
    )
    assert response.status_code == 302
    deliver_due()
    item.refresh_from_db()
    assert item.status == "sent" and len(smtp_server.mails()) == 1


def test_bouncing_addresses_are_listed_and_cleared(admin_client: Client, db: Any) -> None:
    row = mark_bouncing(email="gone@example.org", reason="550 5.1.1 unknown")
    page = admin_client.get(reverse("admin:outbound_bouncingaddress_changelist"))
    assert "gone@example.org" in page.content.decode()
    admin_client.post(
        reverse("admin:outbound_bouncingaddress_changelist"),
        {"action": "clear_selected", "_selected_action": [row.pk]},
    )
    assert not is_bouncing("gone@example.org")


def test_a_stored_template_overrides_the_file_and_has_a_preview(
    admin_client: Client, smtp_server: SMTPCapture, customer: Any, category: Any
) -> None:
    override = EmailTemplate.objects.create(
        name="ticket_created",
        language="pt-br",
        subject="[{{ reference }}] Recebido: {{ subject }}",
        body_text="Oi {{ recipient.name }}, anotamos: {{ reference }}.",
    )
    ticket = services.ticket_create(
        requester=customer, subject="Wi-Fi", body="x", category=category
    )
    deliver_due()
    [mail] = smtp_server.mails()
    assert mail["Subject"] == f"[{ticket.reference}] Recebido: Wi-Fi"
    assert mail.get_body(("plain",)).get_content().strip() == (  # type: ignore[union-attr]
        f"Oi Carla Cliente, anotamos: {ticket.reference}."
    )
    assert "Recebemos sua solicitação" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]

    page = admin_client.get(reverse("admin:outbound_emailtemplate_preview", args=[override.pk]))
    assert page.status_code == 200
    assert f"[{ticket.reference}] Recebido: Wi-Fi" in page.content.decode()
    html = admin_client.get(
        reverse("admin:outbound_emailtemplate_preview_html", args=[override.pk])
    )
    assert html.status_code == 200 and b"<table" in html.content
    assert "script-src" not in html["Content-Security-Policy"]
    assert "sandbox" in html["Content-Security-Policy"]
    assert html["X-Frame-Options"] == "SAMEORIGIN"


def test_a_broken_template_never_breaks_a_ticket_change(
    admin_client: Client, smtp_server: SMTPCapture, customer: Any, category: Any
) -> None:
    broken = EmailTemplate.objects.create(
        name="ticket_created", language="pt-br", subject="{% if %}"
    )
    page = admin_client.get(reverse("admin:outbound_emailtemplate_preview", args=[broken.pk]))
    assert "TemplateSyntaxError" in page.content.decode()
    ticket = services.ticket_create(requester=customer, subject="x", body="y", category=category)
    assert ticket.pk  # the change committed; the mail waits for a fix
    deliver_due()
    item = OutboxItem.objects.get()
    assert item.status == "pending" and "TemplateSyntaxError" in item.last_error
    broken.delete()
    from datetime import timedelta

    from django.utils import timezone

    deliver_due(now=timezone.now() + timedelta(minutes=2))
    item.refresh_from_db()
    assert item.status == "sent"


def test_webhook_history_and_test_event(admin_client: Client, http_receiver: Any, db: Any) -> None:
    add = admin_client.post(
        reverse("admin:outbound_webhookendpoint_add"),
        {
            "name": "local",
            "url": http_receiver.url,
            "events": ["ticket.created", "ticket.resolved"],
            "format": "json",
            "secret": "",
            "allow_private": "on",
            "is_active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert add.status_code == 302, add.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert len(endpoint.secret) >= 32  # generated when left empty
    admin_client.post(
        reverse("admin:outbound_webhookendpoint_changelist"),
        {"action": "send_test_event", "_selected_action": [endpoint.pk]},
    )
    deliver_due()
    assert http_receiver.json(0)["event"] == "test"
    page = admin_client.get(reverse("admin:outbound_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "test" in content and "Enviado" in content  # the history, in pt-BR


def test_notification_switches_are_editable(admin_client: Client, db: Any) -> None:
    page = admin_client.get(reverse("admin:outbound_notificationsetting_add"))
    assert page.status_code == 200 and "ticket_resolved" in page.content.decode()


def test_an_esp_bounce_webhook_marks_the_recipient(client: Client, settings: Any, db: Any) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    event = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Email": "Gone@Example.org",
        "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
        "BouncedAt": "2026-11-28T01:00:00Z",
        "Inactive": True,
        "CanActivate": True,
    }
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    response = client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(event),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200
    assert is_bouncing("gone@example.org")
    # Without the shared secret: refused, nothing marked.
    response = client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps({**event, "Email": "other@example.org"}),
        content_type="application/json",
    )
    assert response.status_code in {400, 401, 403}
    assert not is_bouncing("other@example.org")


def test_templates_see_plain_values_only(db: Any, ticket: Any) -> None:
    from outbound.emails import Recipient, render_email
    from outbound.mails import ticket_context

    probe = EmailTemplate(
        name="ticket_created",
        language="en",
        subject="{{ ticket.created_by.password }}{{ message.author.password }}{{ reference }}",
    )
    ctx = ticket_context(ticket, message=ticket.messages.first(), recipient_user=ticket.created_by)
    rendered = render_email(
        "ticket_created", {**ctx, "recipient": Recipient(email="x@y.z")}, "en", override=probe
    )
    assert rendered.subject == ticket.reference

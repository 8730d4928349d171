"""What the helpdesk sends, and to whom it must not."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BouncingAddress(models.Model):
    """A recipient whose mail bounced: nothing more is sent to it until cleared."""

    email = models.EmailField(_("email address"), unique=True)
    reason = models.TextField(_("reason"), blank=True)
    bounces = models.PositiveIntegerField(_("bounces"), default=1)
    first_bounced_at = models.DateTimeField(_("first bounce"), auto_now_add=True)
    last_bounced_at = models.DateTimeField(_("last bounce"), auto_now=True)

    class Meta:
        verbose_name = _("bouncing address")
        verbose_name_plural = _("bouncing addresses")

    def __str__(self) -> str:
        return self.email


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", _("Ticket created")
    REPLY_ADDED = "reply.added", _("Reply added")
    STATUS_CHANGED = "status.changed", _("Status changed")
    TICKET_RESOLVED = "ticket.resolved", _("Ticket resolved")
    PRIORITY_CHANGED = "priority.changed", _("Priority changed")
    TICKET_ASSIGNED = "ticket.assigned", _("Ticket assigned")


class WebhookEndpoint(models.Model):
    """An admin-configured receiver of signed ticket events."""

    class Format(models.TextChoices):
        JSON = "json", _("JSON (signed)")
        SLACK = "slack", _("Slack / Mattermost / Teams text")

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list, blank=True)
    secret = models.CharField(
        _("secret"),
        max_length=200,
        blank=True,
        help_text=_("Signs every delivery (X-Helpdesk-Signature). Keep it secret."),
    )
    format = models.CharField(_("format"), max_length=10, choices=Format.choices, default="json")
    allow_private = models.BooleanField(
        _("allow private addresses"),
        default=False,
        help_text=_(
            "Allow URLs that resolve to loopback, private or link-local addresses. "
            "Only for receivers on your own network."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name


class OutboxItem(models.Model):
    """One mail or webhook call to deliver: written in the ticket change's
    transaction, delivered after commit by the worker (DESIGN rule 5)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # The notification name (emails/<name>-*.txt) or the webhook event.
    event = models.CharField(_("event"), max_length=50)
    recipient = models.CharField(_("recipient"), max_length=500)
    payload = models.JSONField(_("payload"), default=dict)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True)
    # Fixed at enqueue so a retry (or a re-send after a crash) is the same mail.
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticket"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("webhook endpoint"),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-id"]
        verbose_name = _("outbox item")
        verbose_name_plural = _("outbox")
        indexes: ClassVar = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["ticket", "recipient"]),
            # The per-address hourly cap counts recent rows per recipient.
            models.Index(fields=["recipient", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.event} → {self.recipient}"


class DeliveryAttempt(models.Model):
    """The log: one row per try to deliver an outbox item."""

    class Result(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    item = models.ForeignKey(
        OutboxItem, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("item")
    )
    attempted_at = models.DateTimeField(_("time"), default=timezone.now)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    # The SMTP reply code or HTTP status, when the peer answered at all.
    status_code = models.PositiveIntegerField(_("SMTP/HTTP status"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        ordering: ClassVar = ["-attempted_at", "-id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.result} {self.status_code or ''}"


class Notification(models.TextChoices):
    """Every mail the helpdesk sends about tickets; also the template names."""

    TICKET_CREATED = "ticket_created", _("Ticket created: confirmation to the requester")
    NEW_TICKET = "new_ticket", _("Ticket created: notice to the team's agents")
    AGENT_REPLY = "agent_reply", _("Agent replied: to the requester and CCs")
    CUSTOMER_REPLY = "customer_reply", _("Customer replied: to the assignee or team")
    NOTE_ADDED = "note_added", _("Internal note: to the assignee or team (staff only)")
    ASSIGNED = "assigned", _("Assigned or transferred: to the new assignee")
    TICKET_RESOLVED = "ticket_resolved", _("Resolved: confirm or reopen, to the requester")
    TICKET_CLOSED = "ticket_closed", _("Closed: satisfaction survey, to the requester")
    URGENT = "urgent", _("Priority raised to urgent: to the team")
    REOPENED = "reopened", _("Ticket reopened: to the assignee")
    SLA_WARNING = "sla_warning", _("SLA breach near: to the assignee or team")


# Mails that go to agents only; an agent may opt out of each.
AGENT_NOTIFICATIONS = frozenset(
    {
        Notification.NEW_TICKET,
        Notification.CUSTOMER_REPLY,
        Notification.NOTE_ADDED,
        Notification.ASSIGNED,
        Notification.URGENT,
        Notification.REOPENED,
        Notification.SLA_WARNING,
    }
)
# Agent notices that carry the customer's own words: replying to one answers
# the customer. A reply to any other agent notice (a note, an assignment, an
# urgent or reopened ticket, whatever is added later) is an internal note.
CARRIES_CUSTOMER_MESSAGE = frozenset({Notification.NEW_TICKET, Notification.CUSTOMER_REPLY})


def reply_is_internal(notification: str) -> bool:
    """Whether a reply to this notice becomes an internal note."""
    return notification in AGENT_NOTIFICATIONS and notification not in CARRIES_CUSTOMER_MESSAGE


class NotificationSetting(models.Model):
    """The admin's on/off switch per notification (absent = on)."""

    event = models.CharField(
        _("notification"), max_length=30, choices=Notification.choices, unique=True
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering: ClassVar = ["event"]
        verbose_name = _("notification setting")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return self.get_event_display()


class NotificationOptOut(models.Model):
    """An agent who does not want one kind of notification mail."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_opt_outs",
        verbose_name=_("user"),
    )
    event = models.CharField(_("notification"), max_length=30, choices=Notification.choices)

    class Meta:
        verbose_name = _("notification opt-out")
        verbose_name_plural = _("notification opt-outs")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "event"], name="optout_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_event_display()}"


class EmailTemplate(models.Model):
    """An admin's override of a file template (templates/emails/<name>-*)."""

    name = models.CharField(_("notification"), max_length=30, choices=Notification.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.TextField(
        _("subject"), blank=True, help_text=_("Django template; empty keeps the file's.")
    )
    body_text = models.TextField(
        _("text body"), blank=True, help_text=_("Django template; empty keeps the file's.")
    )
    body_html = models.TextField(
        _("HTML body"),
        blank=True,
        help_text=_(
            'Django template; start with {% extends "emails/layout.html" %} to keep the '
            "shared layout. Empty keeps the file's."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering: ClassVar = ["name", "language"]
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["name", "language"], name="emailtemplate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

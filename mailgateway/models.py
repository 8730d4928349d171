"""Every mail that came in, what became of it, and its raw bytes."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """One delivery of one mail by one door.

    dedupe_key is "mid:<Message-ID>:<content digest>" ("sha:<sha256 of the
    bytes>" for a mail without a Message-ID) and unique: the same mail arriving again,
    by any door or at several of our addresses, finds the first row and is
    recorded as a duplicate row (dedupe_key NULL, duplicate_of set) instead of
    becoming a second ticket entry. The digest (parse.content_digest) covers
    the body and the author's headers but not the trace headers, because the
    same mail never has the same bytes twice across doors: each hop adds its
    own Received/Delivered-To. sha256 (of the exact bytes) is kept as well.
    """

    class Door(models.TextChoices):
        SMTP = "smtp", _("SMTP listener")
        LMTP = "lmtp", _("LMTP")
        IMAP = "imap", _("IMAP poller")
        PIPE = "pipe", _("MTA pipe")
        ESP = "esp", _("ESP webhook")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        CREATED = "created", _("Ticket created")
        REPLIED = "replied", _("Reply added")
        DUPLICATE = "duplicate", _("Duplicate")
        AUTOREPLY = "autoreply", _("Auto-reply")
        BOUNCE = "bounce", _("Bounce")
        QUARANTINED = "quarantined", _("Quarantined")
        DISCARDED = "discarded", _("Discarded")

    door = models.CharField(_("door"), max_length=8, choices=Door.choices)
    mailbox = models.CharField(_("mailbox"), max_length=100, blank=True)
    envelope_from = models.CharField(_("envelope sender"), max_length=320, blank=True)
    envelope_rcpts = models.JSONField(_("envelope recipients"), default=list, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # NULL on duplicate rows: NULLs never collide in a unique constraint.
    dedupe_key = models.CharField(max_length=300, null=True, blank=True, editable=False)  # noqa: DJ001
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    # Relative to settings.HELPDESK_RAW_DIR; empty for duplicate rows.
    # Indexed for the orphan sweeper (helpdesk.ops.cleanup).
    raw_path = models.CharField(_("raw file"), max_length=255, blank=True, db_index=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    # Filled by processing (empty while pending or when parsing failed).
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, default=Outcome.PENDING
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("ticket"),
    )
    # The thread entry the mail became (None for bounces, quarantine, ...).
    entry = models.ForeignKey(
        "tickets.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("thread entry"),
    )
    # How threading decided: {"rule": ..., "candidates": [...], ...}.
    verdict = models.JSONField(_("verdict"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]
        verbose_name = _("inbound mail")
        verbose_name_plural = _("inbound mails")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["dedupe_key"], name="inbound_dedupe_unique")
        ]
        indexes: ClassVar = [
            models.Index(fields=["outcome", "received_at"]),
            models.Index(fields=["from_address", "received_at"]),
        ]
        permissions: ClassVar = [("reprocess_inboundmessage", "Can re-process quarantined mail")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_outcome_display()} {self.message_id or self.sha256[:12]}"


# The IMAP poller's models live in their own module (mailgateway.mailboxes).
from mailgateway.mailboxes import ImapSeen, Mailbox  # noqa: E402

__all__ = ["ImapSeen", "InboundMessage", "Mailbox"]

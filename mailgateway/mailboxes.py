"""IMAP mailboxes configured by admins, and what the poller has already taken from them.

Imported by mailgateway.models so Django sees these models; kept in their own
module because they belong to one door (the IMAP poller), not to the pipeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _

from mailgateway import crypto

# The mailbox defined by HELPDESK_IMAP_URL is kept as a row too (it needs poll state
# and an error column like any other), under this name; its settings come from the URL.
ENV_MAILBOX_NAME = "HELPDESK_IMAP_URL"


class Security(models.TextChoices):
    SSL = "ssl", _("TLS from the start (IMAPS, port 993)")
    STARTTLS = "starttls", _("STARTTLS (port 143)")
    NONE = "none", _("None (plain text; only for a server on this machine)")


class AuthMethod(models.TextChoices):
    PASSWORD = "password", _("Password")
    XOAUTH2 = "xoauth2", _("OAuth 2.0 (XOAUTH2)")


class OAuthFlow(models.TextChoices):
    CLIENT_CREDENTIALS = "client_credentials", _("Client credentials (app-only)")
    REFRESH_TOKEN = "refresh_token", _("Refresh token (delegated)")


class AfterAction(models.TextChoices):
    MOVE = "move", _("Move to a folder")
    SEEN = "seen", _("Mark as seen")
    DELETE = "delete", _("Delete")


class Mailbox(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    from_env = models.BooleanField(_("defined by HELPDESK_IMAP_URL"), default=False, editable=False)
    host = models.CharField(_("host"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("security"), max_length=10, choices=Security.choices, default=Security.SSL
    )
    username = models.CharField(_("user name"), max_length=255)
    auth_method = models.CharField(
        _("authentication"), max_length=10, choices=AuthMethod.choices, default=AuthMethod.PASSWORD
    )
    # Secrets are stored encrypted (mailgateway.crypto) and never shown back.
    password_encrypted = models.TextField(blank=True, default="", editable=False)
    secret_env = models.CharField(
        _("secret from environment variable"),
        max_length=100,
        blank=True,
        help_text=_(
            "Name of an environment variable holding the password (or the OAuth client "
            "secret). When set, it wins over a stored secret."
        ),
    )
    oauth_flow = models.CharField(
        _("OAuth flow"),
        max_length=20,
        choices=OAuthFlow.choices,
        default=OAuthFlow.CLIENT_CREDENTIALS,
        blank=True,
    )
    oauth_token_url = models.CharField(
        _("OAuth token endpoint"),
        max_length=500,
        blank=True,
        help_text=_(
            "e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token or "
            "https://oauth2.googleapis.com/token; {tenant} is replaced by the tenant."
        ),
    )
    oauth_tenant = models.CharField(_("OAuth tenant"), max_length=255, blank=True)
    oauth_client_id = models.CharField(_("OAuth client id"), max_length=255, blank=True)
    oauth_client_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    oauth_refresh_token_encrypted = models.TextField(blank=True, default="", editable=False)
    oauth_scope = models.CharField(
        _("OAuth scope"),
        max_length=500,
        blank=True,
        help_text=_(
            "Microsoft 365 app-only: https://outlook.office365.com/.default; "
            "Google: https://mail.google.com/"
        ),
    )
    oauth_access_token_encrypted = models.TextField(blank=True, default="", editable=False)
    token_expires_at = models.DateTimeField(
        _("access token expires"), null=True, blank=True, editable=False
    )
    credentials_expire_on = models.DateField(
        _("credentials expire on"),
        null=True,
        blank=True,
        help_text=_(
            "When the client secret or refresh token expires at your provider; /healthz "
            "warns two weeks before."
        ),
    )
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    action = models.CharField(
        _("after processing"), max_length=10, choices=AfterAction.choices, default=AfterAction.MOVE
    )
    move_to = models.CharField(
        _("move to folder"),
        max_length=255,
        default="Processed",
        blank=True,
        help_text=_("Created when missing."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(
        _("last successful poll"), null=True, blank=True, editable=False
    )
    last_error = models.TextField(_("last error"), blank=True, default="", editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("IMAP mailbox")
        verbose_name_plural = _("IMAP mailboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Secrets: set through these methods so nothing stores plaintext by accident.
    def set_password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(value)

    def set_client_secret(self, value: str) -> None:
        self.oauth_client_secret_encrypted = crypto.encrypt(value)

    def set_refresh_token(self, value: str) -> None:
        self.oauth_refresh_token_encrypted = crypto.encrypt(value)

    def set_access_token(self, value: str) -> None:
        self.oauth_access_token_encrypted = crypto.encrypt(value)

    def _from_env(self) -> str:
        return os.environ.get(self.secret_env, "") if self.secret_env else ""

    def password(self) -> str:
        if self.from_env:
            return imap_url_settings().password
        return self._from_env() or crypto.decrypt(self.password_encrypted)

    def client_secret(self) -> str:
        return self._from_env() or crypto.decrypt(self.oauth_client_secret_encrypted)

    def refresh_token(self) -> str:
        return crypto.decrypt(self.oauth_refresh_token_encrypted)

    def access_token(self) -> str:
        return crypto.decrypt(self.oauth_access_token_encrypted)

    @property
    def has_secret(self) -> bool:
        return bool(
            self.password_encrypted or self.oauth_client_secret_encrypted or self.secret_env
        )


class ImapSeen(models.Model):
    """One message taken from a mailbox, identified as RFC 9051 says it must be.

    (mailbox, UIDVALIDITY, UID) never names another message, so a row here means
    "already ingested": a later run skips it without fetching. `acknowledged` turns
    true once the after-processing action (move, flag, delete) went through; a run
    that died between the two finishes the action on the next start.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="seen")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    outcome = models.CharField(max_length=20)
    inbound_id = models.BigIntegerField(null=True, blank=True)
    acknowledged = models.BooleanField(default=False)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("IMAP message taken")
        verbose_name_plural = _("IMAP messages taken")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], name="imapseen_unique_uid"
            )
        ]
        indexes = [models.Index(fields=["mailbox", "acknowledged"], name="imapseen_pending")]

    def __str__(self) -> str:
        return f"{self.mailbox_id}/{self.uidvalidity}/{self.uid}"


@dataclass(frozen=True)
class ImapUrl:
    host: str
    port: int
    security: str
    username: str
    password: str
    folder: str
    action: str
    move_to: str


def imap_url_settings(url: str | None = None) -> ImapUrl:
    """Parse HELPDESK_IMAP_URL: imap[s]://user:pass@host[:port]/FOLDER[?options].

    imaps:// is TLS from the start (port 993); imap:// uses STARTTLS (port 143)
    unless ?security=none. Options: action=move|seen|delete, move_to=FOLDER.
    User name and password are percent-decoded (write @ as %40).
    """
    from django.conf import settings

    raw = url if url is not None else settings.HELPDESK_IMAP_URL
    parts = urlsplit(raw)
    if parts.scheme not in {"imap", "imaps"} or not parts.hostname:
        raise ImproperlyConfigured(
            "HELPDESK_IMAP_URL must look like imaps://user:password@host:port/INBOX"
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    security: str = Security.SSL
    if parts.scheme == "imap":
        security = options.get("security", Security.STARTTLS)
        if security not in {Security.STARTTLS, Security.NONE}:
            raise ImproperlyConfigured("HELPDESK_IMAP_URL: security must be starttls or none")
    action = options.get("action", AfterAction.MOVE)
    if action not in AfterAction.values:
        raise ImproperlyConfigured("HELPDESK_IMAP_URL: action must be move, seen or delete")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ImproperlyConfigured("HELPDESK_IMAP_URL: the port is not a number") from None
    return ImapUrl(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        action=action,
        move_to=options.get("move_to", "Processed"),
    )


def sync_env_mailbox() -> Mailbox | None:
    """Create or update the row for HELPDESK_IMAP_URL (its password is never stored)."""
    from django.conf import settings

    if not settings.HELPDESK_IMAP_URL:
        Mailbox.objects.filter(from_env=True).update(is_active=False)
        return None
    url = imap_url_settings()
    mailbox, _created = Mailbox.objects.update_or_create(
        name=ENV_MAILBOX_NAME,
        defaults={
            "from_env": True,
            "host": url.host,
            "port": url.port,
            "security": url.security,
            "username": url.username,
            "auth_method": AuthMethod.PASSWORD,
            "folder": url.folder,
            "action": url.action,
            "move_to": url.move_to,
            "is_active": True,
        },
    )
    return mailbox

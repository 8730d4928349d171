"""Admin for IMAP mailboxes: secrets go in through write-only fields and never come back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mailgateway.mailboxes import AfterAction, AuthMethod, Mailbox, OAuthFlow

KEEP = _("Write-only: leave empty to keep the stored value.")


class MailboxForm(forms.ModelForm):  # type: ignore[type-arg]
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=KEEP,
    )
    client_secret = forms.CharField(
        label=_("OAuth client secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=KEEP,
    )
    refresh_token = forms.CharField(
        label=_("OAuth refresh token"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=KEEP,
    )
    forget_secrets = forms.BooleanField(label=_("Forget the stored secrets"), required=False)

    class Meta:
        model = Mailbox
        fields = (
            "name",
            "is_active",
            "host",
            "port",
            "security",
            "username",
            "auth_method",
            "secret_env",
            "oauth_flow",
            "oauth_token_url",
            "oauth_tenant",
            "oauth_client_id",
            "oauth_scope",
            "credentials_expire_on",
            "folder",
            "action",
            "move_to",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        box: Mailbox = self.instance
        forget = data.get("forget_secrets")
        has_env = bool(data.get("secret_env"))
        if data.get("auth_method") == AuthMethod.XOAUTH2:
            for name in ("oauth_token_url", "oauth_client_id"):
                if not data.get(name):
                    self.add_error(name, _("Needed for OAuth."))
            if data.get("oauth_flow") == OAuthFlow.REFRESH_TOKEN:
                stored = bool(box.oauth_refresh_token_encrypted) and not forget
                if not (data.get("refresh_token") or stored):
                    self.add_error(
                        "refresh_token", _("The refresh-token flow needs a refresh token.")
                    )
            else:
                stored = bool(box.oauth_client_secret_encrypted) and not forget
                if not (data.get("client_secret") or stored or has_env):
                    self.add_error("client_secret", _("Client credentials need a client secret."))
        else:
            stored = bool(box.password_encrypted) and not forget
            if not (data.get("password") or stored or has_env):
                self.add_error("password", _("Enter the password or an environment variable name."))
        if data.get("action") == AfterAction.MOVE and not data.get("move_to"):
            self.add_error("move_to", _("Name the folder to move processed mail to."))
        return data

    def save(self, commit: bool = True) -> Mailbox:
        box: Mailbox = super().save(commit=False)
        data = self.cleaned_data
        if data.get("forget_secrets"):
            for name in ("password", "client_secret", "refresh_token", "access_token"):
                getattr(box, f"set_{name}")("")
            box.token_expires_at = None
        if data.get("password"):
            box.set_password(data["password"])
        if data.get("client_secret"):
            box.set_client_secret(data["client_secret"])
        if data.get("refresh_token"):
            box.set_refresh_token(data["refresh_token"])
        oauth_fields = {"oauth_flow", "oauth_token_url", "oauth_tenant", "oauth_client_id"}
        if oauth_fields & set(self.changed_data) or data.get("client_secret"):
            # A token minted for other settings must not be used for the new ones.
            box.set_access_token("")
            box.token_expires_at = None
        if commit:
            box.save()
        return box


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = MailboxForm
    list_display = (
        "name",
        "is_active",
        "username",
        "host",
        "folder",
        "auth_method",
        "last_success_at",
        "short_error",
        "token_expires_at",
    )
    list_filter = ("is_active", "auth_method", "action")
    search_fields = ("name", "username", "host")
    state_fields = (
        "last_success_at",
        "last_error",
        "last_error_at",
        "token_expires_at",
        "uidvalidity",
    )
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (_("Server"), {"fields": ("host", "port", "security", "folder")}),
        (
            _("Login"),
            {"fields": ("username", "auth_method", "password", "secret_env", "forget_secrets")},
        ),
        (
            _("OAuth 2.0 (Microsoft 365, Google)"),
            {
                "fields": (
                    "oauth_flow",
                    "oauth_token_url",
                    "oauth_tenant",
                    "oauth_client_id",
                    "client_secret",
                    "refresh_token",
                    "oauth_scope",
                    "credentials_expire_on",
                )
            },
        ),
        (_("After processing"), {"fields": ("action", "move_to")}),
        (_("State"), {"fields": state_fields}),
    )

    @admin.display(description=_("last error"))
    def short_error(self, obj: Mailbox) -> str:
        return obj.last_error[:80]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.from_env:
            # Settings come from HELPDESK_IMAP_URL; only switching it off makes sense here.
            editable = {"is_active"}
            names = [f for fs in self.fieldsets for f in fs[1]["fields"]]
            return [n for n in names if n not in editable and n not in MailboxForm.declared_fields]
        return self.state_fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.from_env:
            return (
                (None, {"fields": ("name", "is_active", "host", "port", "security", "folder")}),
                (_("Login"), {"fields": ("username",)}),
                (_("After processing"), {"fields": ("action", "move_to")}),
                (_("State"), {"fields": self.state_fields}),
            )
        return super().get_fieldsets(request, obj)

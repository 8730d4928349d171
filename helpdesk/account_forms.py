"""Forms of the account pages, each with an explicit list of fields."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from helpdesk import account_mail
from helpdesk.models import User, normalize_email_address
from helpdesk.roles import Role, is_staff_member
from outbound import preferences
from outbound.models import Notification

RESET_MAILS_PER_HOUR = 3


class SignupForm(forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Email address"))
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_email(self) -> str:
        return normalize_email_address(self.cleaned_data["email"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password")
        if password:
            probe = User(email=data.get("email", ""), full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


# The agent notices, as the agent reads them on their profile.
NOTICE_LABELS = [
    (Notification.NEW_TICKET, _("A new ticket arrives in my team")),
    (Notification.ASSIGNED, _("A ticket is assigned or transferred to me")),
    (Notification.CUSTOMER_REPLY, _("A customer replies on a ticket I handle")),
    (Notification.NOTE_ADDED, _("An internal note is added to a ticket I handle")),
    (Notification.REOPENED, _("A ticket I handle is reopened")),
    (Notification.URGENT, _("A ticket of my team becomes urgent")),
    (Notification.SLA_WARNING, _("A ticket I handle is close to its SLA due time")),
]


class ProfileForm(forms.ModelForm[User]):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)
    email_notices = forms.MultipleChoiceField(
        label=_("Email me when"),
        choices=NOTICE_LABELS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The bell in the panel shows every notice either way."),
    )

    class Meta:
        model = User
        fields = ["full_name", "language", "time_zone", "signature", "reports_mail"]
        widgets = {"signature": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.role != Role.ADMIN:
            del self.fields["reports_mail"]  # managers always get them; admins choose
        if not is_staff_member(self.instance):
            del self.fields["signature"]
            del self.fields["email_notices"]
        else:
            self.fields["signature"].help_text = _("Added below your replies.")
            self.fields["email_notices"].initial = sorted(preferences.receiving(self.instance))

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        if commit and "email_notices" in self.fields:
            preferences.receiving_set(user=user, receive=self.cleaned_data["email_notices"])
        return user


class HelpdeskPasswordResetForm(PasswordResetForm):
    """Django's reset form, also for accounts a mail created without a password
    (that is how a customer who first wrote by mail claims the account), and
    at most a few mails per account per hour."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Links point at the configured site, never at whatever Host header came in.
        extra = dict(kwargs.get("extra_email_context") or {})
        extra.setdefault("base_url", settings.HELPDESK_BASE_URL)
        kwargs["extra_email_context"] = extra
        super().save(*args, **kwargs)

    def get_users(self, email: str) -> Iterator[Any]:
        yield from User.objects.filter(email=normalize_email_address(email), is_active=True)

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        to_email = str(args[4] if len(args) > 4 else kwargs.get("to_email", ""))
        key = f"helpdesk:reset-mails:{to_email}"
        cache.add(key, 0, timeout=3600)
        try:
            sent = cache.incr(key)
        except ValueError:
            sent = 1
        if sent > RESET_MAILS_PER_HOUR:
            return  # quietly: the page must look the same either way
        context = args[2] if len(args) > 2 else kwargs["context"]
        # Through the outbox (retried if the relay is down); the link is made
        # again when the mail is built, with the same token generator.
        account_mail.queue(context["user"], account_mail.PASSWORD_RESET)


LOGIN_FAILURES_ALLOWED = 5
LOGIN_LOCK_SECONDS = 15 * 60


class HelpdeskLoginForm(AuthenticationForm):
    """Django's login form with a lock after repeated failures for one
    (address, client) pair, so a password cannot be guessed at speed."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. Try again in 15 minutes or reset your password."),
    }

    def _key(self) -> str:
        username = normalize_email_address(str(self.data.get("username", "")))
        client = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return f"helpdesk:login-failures:{username}:{client}"

    def clean(self) -> dict[str, Any]:
        key = self._key()
        if int(cache.get(key, 0)) >= LOGIN_FAILURES_ALLOWED:
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            return super().clean()
        except forms.ValidationError:
            cache.add(key, 0, timeout=LOGIN_LOCK_SECONDS)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=LOGIN_LOCK_SECONDS)
            raise

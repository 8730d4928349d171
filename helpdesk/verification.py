"""Email verification for web sign-ups: a signed, expiring link."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from helpdesk.models import User

SALT = "helpdesk.verify-email"


def max_age_seconds() -> int:
    return int(getattr(settings, "HELPDESK_VERIFY_MAX_AGE_DAYS", 3)) * 24 * 60 * 60


def make_token(user: User) -> str:
    # The address is signed too: a link stops working if the email changes.
    return signing.dumps({"u": user.pk, "e": user.email}, salt=SALT)


def user_for_token(token: str) -> User | None:
    """The user the link was made for, or None when forged, expired or stale."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age_seconds())
        user = User.objects.get(pk=int(data["u"]), is_active=True)
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist):
        return None
    return user if user.email == data.get("e") else None


def _send(user: User, template: str, context: dict[str, Any]) -> None:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"emails/{template}-subject.txt", context).strip()
        body = render_to_string(f"emails/{template}-body.txt", context)
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [user.email])


def send_verification(user: User) -> None:
    link = settings.HELPDESK_BASE_URL + reverse("verify_email", args=[make_token(user)])
    _send(user, "verify-email", {"user": user, "link": link})


def send_already_registered(user: User) -> None:
    """A sign-up with a known address tells that address, not the person typing."""
    link = settings.HELPDESK_BASE_URL + reverse("password_reset")
    _send(user, "already-registered", {"user": user, "link": link})

"""Email verification for web sign-ups: a signed, expiring link."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

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


def send_verification(user: User) -> None:
    from helpdesk import account_mail

    account_mail.queue(user, account_mail.VERIFY)


def send_already_registered(user: User) -> None:
    """A sign-up with a known address tells that address, not the person typing."""
    from helpdesk import account_mail

    account_mail.queue(user, account_mail.ALREADY_REGISTERED)

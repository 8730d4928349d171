"""Account mails (verify an address, "already registered", password reset)
through the outbox, like every other mail.

Written in the request's transaction and delivered, retried and logged by
the worker: a relay that is down loses none of them and never turns a
sign-up into an error page. The row holds only who and what; the signed
link is made when the mail is built, so no usable token sits in the database.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from helpdesk.models import User
from helpdesk.verification import make_token
from outbound.enqueue import outbox_add
from outbound.headers import new_message_id
from outbound.mails import MissingObject
from outbound.models import OutboxItem

VERIFY = "verify-email"
ALREADY_REGISTERED = "already-registered"
PASSWORD_RESET = "password-reset"  # noqa: S105 (a template name)
UNVERIFIED_STAFF = "unverified-staff"
KINDS = frozenset({VERIFY, ALREADY_REGISTERED, PASSWORD_RESET, UNVERIFIED_STAFF})


def queue(user: User, kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown account mail {kind!r}")
    outbox_add(
        [
            OutboxItem(
                kind=OutboxItem.Kind.EMAIL,
                event=kind,
                recipient=user.email,
                dedupe_key=f"account:{kind}:{user.pk}:{uuid.uuid4().hex}",
                payload={"account": kind, "user_id": user.pk, "to": user.email},
            )
        ]
    )


def queue_unverified_staff(user: User, *, subject: str) -> None:
    """Tell an agent that a mail from their address was held, and how to write
    so that it works: at most one such mail a day (its key names the day), so
    a forger cannot flood the agent with them."""
    key = f"account:{UNVERIFIED_STAFF}:{user.pk}:{timezone.now():%Y-%m-%d}"
    item = OutboxItem(
        kind=OutboxItem.Kind.EMAIL,
        event=UNVERIFIED_STAFF,
        recipient=user.email,
        dedupe_key=key,
        payload={
            "account": UNVERIFIED_STAFF,
            "user_id": user.pk,
            "to": user.email,
            "subject": subject[:200],
        },
    )
    try:
        with transaction.atomic():
            outbox_add([item])
    except IntegrityError:
        pass  # another process queued today's mail a moment ago


def _context(kind: str, user: User, payload: dict[str, Any]) -> dict[str, Any]:
    base = settings.HELPDESK_BASE_URL
    context: dict[str, Any] = {"user": user, "base_url": base}
    if kind == UNVERIFIED_STAFF:
        context["held_subject"] = payload.get("subject", "")
        context["support_address"] = settings.HELPDESK_SUPPORT_ADDRESS
        context["link"] = base + reverse("ticket_list")
        return context
    if kind == VERIFY:
        context["link"] = base + reverse("verify_email", args=[make_token(user)])
    elif kind == ALREADY_REGISTERED:
        context["link"] = base + reverse("password_reset")
    else:  # what Django's PasswordResetForm gives its template
        context["uid"] = urlsafe_base64_encode(force_bytes(user.pk))
        context["token"] = default_token_generator.make_token(user)
    return context


def build(payload: dict[str, Any], connection: Any = None) -> EmailMultiAlternatives:
    """The mail an account outbox row describes, in the account's language."""
    kind = payload["account"]
    if kind == "report-summary":
        from helpdesk import report_mail

        return report_mail.build(payload, connection)
    user = User.objects.filter(pk=payload["user_id"], is_active=True).first()
    if user is None or kind not in KINDS:
        raise MissingObject("the account no longer exists")  # skipped, not retried
    return text_mail(kind, user, _context(kind, user, payload), connection)


def text_mail(
    kind: str, user: User, context: dict[str, Any], connection: Any = None
) -> EmailMultiAlternatives:
    """A plain-text mail to user from emails/<kind>-subject.txt and -body.txt,
    rendered in their language (account mails, the report summary)."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"emails/{kind}-subject.txt", context)
        body = render_to_string(f"emails/{kind}-body.txt", context)
    return EmailMultiAlternatives(
        " ".join(subject.split()),
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        connection=connection,
        # Like every notification (outbound.notify): machine mail, and no
        # Exchange out-of-office answers to it (found by B12: account and
        # report mails lacked X-Auto-Response-Suppress).
        headers={
            "Message-ID": new_message_id(),
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )

"""The world the access suites (A2, A7) run in: two customers, agents of two
teams (agents see only their teams' tickets: HELPDESK_AGENTS_SEE_ALL off, the
strict setting), a manager, an admin, and at least one object of every kind a
URL can name, each with an owner.

Customer A's ticket is team X's, customer B's team Y's; each holds a public
reply with a file, an internal note with a file, a mail with HTML (the
per-message frame), a pasted image (the inline view) and an attached mail
(the nested message and its parts). Every user has a saved view, a
notification and an API token; every staff member a canned reply and a draft
on a ticket they may see. The admin-only rows (a quarantined mail, a mailbox,
an outbox item, a webhook endpoint, ...) are there too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from helpdesk.accounts import user_create
from helpdesk.api.models import ApiToken
from helpdesk.api.tokens import token_create
from helpdesk.models import AuditEntry, Notification, ReplyDraft, SatisfactionRating, SavedView
from helpdesk.roles import Role
from mailgateway.mailboxes import Mailbox
from mailgateway.models import InboundMessage
from outbound.models import (
    BouncingAddress,
    EmailTemplate,
    NotificationOptOut,
    NotificationSetting,
    OutboxItem,
    WebhookEndpoint,
)
from tests.conftest import PASSWORD
from tests.helpdesk.conftest import add_mail_with_image_and_eml, add_reply_and_note
from tickets import access, services
from tickets.models import (
    Attachment,
    BusinessCalendar,
    CannedReply,
    Category,
    Message,
    RoutingRule,
    SLAPolicy,
    Tag,
    Team,
    Ticket,
)

ACTORS = ("customer_a", "customer_b", "agent_x", "agent_y", "manager", "admin")


@dataclass
class World:
    users: dict[str, Any]
    tickets: dict[str, Ticket]  # "a": customer A's (team X), "b": customer B's (team Y)
    # kind -> objects of that kind (tickets, messages, notes, attachments, ...)
    objects: dict[str, list[Model]] = field(default_factory=dict)

    def client(self, actor: str, *, csrf: bool = False) -> Client:
        """A signed-in client; csrf=True: one that enforces the CSRF check and
        sends a valid token with every request (header and cookie)."""
        client = Client(enforce_csrf_checks=csrf, headers={"x-csrftoken": CSRF_SECRET})
        client.force_login(self.users[actor])
        client.cookies["csrftoken"] = CSRF_SECRET
        return client

    def may_reach(self, actor: str, kind: str, obj: Model) -> bool:
        """What the access policy (tickets.access, ownership) lets actor reach;
        everything else is foreign and must look missing."""
        user = self.users[actor]
        return reachable(user, kind, obj)


# A CSRF secret of the right length: Django accepts it unmasked in the
# X-CSRFToken header when it equals the cookie's.
CSRF_SECRET = "a" * 32


def reachable(user: Any, kind: str, obj: Any) -> bool:
    if kind == "ticket":
        return access.can_view(user, obj)
    if kind in {"message", "html_message", "attachment", "image", "eml"}:
        return access.can_view(user, obj.ticket)
    if kind in {"note", "note_attachment"}:
        return access.is_staff(user) and access.can_view(user, obj.ticket)
    if kind in {"saved_view", "canned"}:
        return bool(obj.owner_id == user.pk)
    if kind == "notification":
        return bool(obj.recipient_id == user.pk)
    if kind == "token":
        return bool(obj.user_id == user.pk)
    raise ValueError(kind)


def _ticket(requester: Any, category: Category, subject: str, author: Any) -> dict[str, Model]:
    ticket = services.ticket_create(
        requester=requester, subject=subject, body="First message.", category=category
    )
    reply, note = add_reply_and_note(ticket, author)
    mail = add_mail_with_image_and_eml(ticket, requester)
    image, eml = mail.attachments.order_by("id")
    return {
        "ticket": ticket,
        "message": reply,
        "note": note,
        "html_message": mail,
        "attachment": reply.attachments.get(),
        "note_attachment": note.attachments.get(),
        "image": image,
        "eml": eml,
    }


def build_world(settings: Any) -> World:
    settings.HELPDESK_AGENTS_SEE_ALL = False
    team_x = Team.objects.create(name="Team X")
    team_y = Team.objects.create(name="Team Y")
    category_x = Category.objects.create(name="Printers", default_team=team_x)
    category_y = Category.objects.create(name="Billing", default_team=team_y)

    def user(email: str, role: str) -> Any:
        return user_create(email=email, full_name=email.split("@")[0], role=role, password=PASSWORD)

    users = {
        "customer_a": user("carla@cliente.com.br", Role.CUSTOMER),
        "customer_b": user("otto@outra.com.br", Role.CUSTOMER),
        "agent_x": user("ana@support.example", Role.AGENT),
        "agent_y": user("yuri@support.example", Role.AGENT),
        "manager": user("mario@support.example", Role.MANAGER),
        "admin": user("root@support.example", Role.ADMIN),
    }
    team_x.members.add(users["agent_x"])
    team_y.members.add(users["agent_y"])
    a = _ticket(users["customer_a"], category_x, "Impressora não imprime", users["agent_x"])
    b = _ticket(users["customer_b"], category_y, "Fatura em dobro", users["agent_y"])
    objects: dict[str, list[Model]] = {kind: [a[kind], b[kind]] for kind in a}
    tickets: dict[str, Ticket] = {"a": a["ticket"], "b": b["ticket"]}  # type: ignore[dict-item]

    objects["saved_view"] = []
    objects["notification"] = []
    objects["token"] = []
    objects["canned"] = []
    for name, person in users.items():
        objects["saved_view"].append(
            SavedView.objects.create(owner=person, name=f"{name}'s", querystring="status=open")
        )
        own = tickets["b" if name in {"customer_b", "agent_y"} else "a"]
        objects["notification"].append(
            Notification.objects.create(recipient=person, ticket=own, kind=Notification.Kind.REPLY)
        )
        token, _secret = token_create(user=person, name=f"{name}'s script")
        objects["token"].append(token)
        if person.is_staff:
            objects["canned"].append(
                CannedReply.objects.create(owner=person, name=f"{name}'s", body="Olá {cliente}")
            )
            ReplyDraft.objects.create(user=person, ticket=own, body=f"{name}'s draft")
    _admin_rows(users, tickets, category_x)
    return World(users=users, tickets=tickets, objects=objects)


def _admin_rows(users: dict[str, Any], tickets: dict[str, Ticket], category: Category) -> None:
    """One row of every model the admin shows that the tickets did not make."""
    raw = b"From: x@example.com\r\nSubject: broken\r\n\r\nbody"
    InboundMessage.objects.create(
        door="smtp",
        sha256=hashlib.sha256(raw).hexdigest(),
        from_address="x@example.com",
        subject="broken",
        outcome="quarantined",
        error="test quarantine row",
    )
    Mailbox.objects.create(name="Inbox", host="127.0.0.1", username="help")
    BouncingAddress.objects.create(email="gone@example.org", reason="550")
    WebhookEndpoint.objects.create(name="hook", url="https://hooks.example.net/x")
    NotificationSetting.objects.get_or_create(event="new_ticket")
    NotificationOptOut.objects.create(user=users["agent_x"], event="ticket_created")
    EmailTemplate.objects.create(
        name="ticket_created", language="en", subject="s", body_text="t", body_html=""
    )
    Tag.objects.create(name="vip")
    RoutingRule.objects.create(
        name="rule", match="sender_domain", value="x.example", team=tickets["a"].team
    )
    BusinessCalendar.objects.create(name="Office")
    SLAPolicy.objects.create(priority="high", category=category)
    SatisfactionRating.objects.create(ticket=tickets["a"], user=users["customer_a"], score=5)
    AuditEntry.objects.create(action="login", actor=users["admin"], object_repr="x")
    Group.objects.get_or_create(name="extra")
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="outbound.tasks.deliver",
        backend_name="default",
        run_after=timezone.now(),
        exception_class_path="",
        traceback="",
    )
    if not OutboxItem.objects.exists():
        raise AssertionError("the tickets made no outbox item")
    assert ApiToken.objects.exists() and Attachment.objects.exists() and Message.objects.exists()


# --- Checksums: every table's rows, to show a request changed nothing ----------


def table_checksums(*, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """table -> a digest of all its rows in primary-key order."""
    from django.apps import apps

    sums = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.db_table
        if label in skip:
            continue
        rows = model._default_manager.order_by("pk").values_list()
        sums[label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return sums


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


# --- Comparing answers ----------------------------------------------------------

# What differs between two renderings of the same page by design: the CSP
# nonce and the masked CSRF token are fresh on every request.
_VOLATILE = re.compile(
    rb'(nonce="|nonce-|csrfmiddlewaretoken" value="|name="csrf-token" content="|"X-CSRFToken": ")'
    rb"[A-Za-z0-9+/=_-]+"
)


def normalized(body: bytes) -> bytes:
    return _VOLATILE.sub(rb"\1*", body)

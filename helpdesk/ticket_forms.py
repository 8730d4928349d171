"""Forms of the ticket pages. Each lists its fields explicitly: a posted field
that is not here (role, requester, status on a customer form...) is ignored."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from email.utils import parseaddr
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext_lazy as _

from helpdesk.markup import format_reply
from helpdesk.models import User
from helpdesk.roles import STAFF_ROLES, is_staff_member
from helpdesk.uploads import (
    MultipleFileField,
    extension_of,
    limit_attrs,
    max_files,
    to_new_attachment,
)
from mailgateway.addresses import is_our_address
from tickets.models import Category, Message, Team, Ticket
from tickets.services import TAG_MAX_LENGTH
from tickets.states import Priority, Status, moves_from

SUBJECT_MAX = 255
BODY_MAX = 20000
# Copies one reply may carry (CC and BCC together): more looks like a mailing.
MAX_COPIES = 20
# Images mail clients show inline (and the reply box pastes: PNG, JPEG, GIF, WebP).
INLINE_IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})


def staff_users() -> Any:
    return User.objects.filter(role__in=STAFF_ROLES, is_active=True).order_by("full_name", "email")


class _AttachmentsMixin(forms.Form):
    attachments = MultipleFileField(label=_("Attachments"))

    def _setup_attachments(self) -> None:
        field = self.fields["attachments"]
        field.widget.attrs.update(limit_attrs())
        field.help_text = _("Up to %(count)d files, each at most %(size)d MB.") % {
            "count": max_files(),
            "size": settings.HELPDESK_MAX_ATTACHMENT_MB,
        }


class TicketCreateForm(_AttachmentsMixin):
    requester_email = forms.EmailField(
        label=_("Requester's email"),
        required=False,
        help_text=_("Open the ticket on behalf of this customer; empty for yourself."),
    )
    requester_name = forms.CharField(label=_("Requester's name"), max_length=150, required=False)
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(is_active=True),
        label=_("Category"),
        required=False,
        empty_label=_("— choose —"),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX, min_length=3)
    description = forms.CharField(
        label=_("Description"),
        max_length=BODY_MAX,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What happened, what you expected, and any error message you saw."),
    )
    field_order = [
        "requester_email",
        "requester_name",
        "category",
        "priority",
        "subject",
        "description",
        "attachments",
    ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("priority", Priority.MEDIUM)
        super().__init__(*args, **kwargs)
        if not is_staff_member(user):
            del self.fields["requester_email"]
            del self.fields["requester_name"]
        self._setup_attachments()


class AddressListField(forms.CharField):
    """Mail addresses separated by commas, semicolons or spaces ("Name <a@b>"
    works too); cleaned to a list of unique lower-case addresses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 4000)
        super().__init__(*args, **kwargs)
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def clean(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().clean(value) or ""
        addresses: list[str] = []
        bad: list[str] = []
        for chunk in re.split(r"[,;\n]", text):
            chunk = chunk.strip()
            # "Ana <ana@x>" names one address; bare ones may be space-separated.
            parts = [parseaddr(chunk)[1]] if "<" in chunk else chunk.split()
            for part in parts:
                part = part.strip().lower()
                try:
                    validate_email(part)
                except ValidationError:
                    bad.append(part or chunk)
                    continue
                if is_our_address(part):
                    bad.append(part)
                elif part not in addresses:
                    addresses.append(part)
        if bad:
            raise ValidationError(
                _("Not a usable mail address: %(addresses)s"),
                code="invalid_address",
                params={"addresses": ", ".join(bad)},
            )
        return addresses


class ReplyForm(_AttachmentsMixin):
    body = forms.CharField(
        label=_("Your reply"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 6})
    )
    cc = AddressListField(
        label=_("Cc"),
        help_text=_("They get this reply and later ones, and may answer."),
    )
    bcc = AddressListField(
        label=_("Bcc"),
        help_text=_("They get this reply only; customers do not see who."),
    )
    internal = forms.BooleanField(label=_("Internal note (only staff can see it)"), required=False)
    set_status = forms.ChoiceField(
        label=_("Then set status to"),
        required=False,
        choices=[("", _("— keep as it is —")), *Status.choices],
    )

    def __init__(self, *args: Any, user: Any, ticket: Ticket | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if ticket is not None and "set_status" in self.fields:
            # Offer only the moves the state table allows from where the ticket is.
            self.fields["set_status"].widget.choices = [
                ("", _("— keep as it is —")),
                *[(s, Status(s).label) for s in moves_from(ticket.status)[1:]],
            ]
        if not is_staff_member(user):
            del self.fields["internal"]
            del self.fields["set_status"]
            del self.fields["cc"]
            del self.fields["bcc"]
        else:
            body = self.fields["body"]
            body.widget.attrs["data-editor"] = "reply"  # static/js/reply-editor.js
            body.help_text = _(
                "**bold**, *italic*, lines starting with - or 1. for lists, "
                "[text](https://…) for links; paste or drop images where they go."
            )
        self._setup_attachments()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        cc, bcc = data.get("cc") or [], data.get("bcc") or []
        if (cc or bcc) and data.get("internal"):
            self.add_error(
                "cc" if cc else "bcc",
                _("Internal notes are not mailed to anyone outside; remove the copies."),
            )
        if len(cc) + len(bcc) > MAX_COPIES:
            self.add_error("cc", _("At most %(count)d copies per reply.") % {"count": MAX_COPIES})
        return data

    def reply_fields(self, *, staff: bool) -> dict[str, Any]:
        """The cleaned reply as tickets.services.ticket_reply_add arguments.

        Staff write with light formatting (helpdesk.markup); an uploaded image
        the text shows as ![name](file name) goes as an inline image (its
        Content-ID referenced from the HTML), every other file as an attachment.
        """
        data = self.cleaned_data
        uploads = data.get("attachments") or []
        if not staff:
            return {
                "body": data["body"],
                "attachments": [to_new_attachment(f) for f in uploads],
            }
        domain = settings.HELPDESK_SUPPORT_ADDRESS.rpartition("@")[2] or "helpdesk"
        images = {
            f.name: f"{uuid.uuid4().hex}@{domain}"
            for f in uploads
            if f.name and extension_of(f.name) in INLINE_IMAGE_EXTENSIONS
        }
        reply = format_reply(data["body"], images=images)
        attachments = []
        for upload in uploads:
            item = to_new_attachment(upload)
            if upload.name in reply.images:
                item = replace(item, content_id=images[upload.name], is_inline=True)
            attachments.append(item)
        return {
            "body": reply.text,
            "body_html": reply.html,
            "formatted": bool(reply.html),
            "attachments": attachments,
            "cc": data.get("cc") or [],
            "bcc": data.get("bcc") or [],
        }


class ForwardForm(forms.Form):
    """Send one entry of the thread, or a text, to an outside address (a supplier)."""

    to = forms.EmailField(
        label=_("To"),
        help_text=_("Their answer comes back here as an internal note."),
    )
    entry = forms.TypedChoiceField(
        label=_("Entry to forward"), coerce=int, required=False, empty_value=None
    )
    body = forms.CharField(
        label=_("Message"),
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "forward")  # beside the reply form on the page
        super().__init__(*args, **kwargs)
        self.entries = {
            m.pk: m
            for m in ticket.messages.exclude(kind=Message.Kind.EVENT)
            .filter(forwarded_to="")
            .select_related("author")
            .order_by("-created_at", "-id")
        }
        self.fields["entry"].choices = [  # type: ignore[attr-defined]
            ("", _("— none, only my message —")),
            *((pk, _entry_label(m)) for pk, m in self.entries.items()),
        ]

    def clean_to(self) -> str:
        to = str(self.cleaned_data["to"]).strip().lower()
        if is_our_address(to):
            raise ValidationError(_("That is one of our own addresses."), code="ours")
        return to

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("body") or "").strip() and data.get("entry") is None:
            self.add_error("body", _("Write a message or choose an entry to forward."))
        return data

    def forward_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry = data.get("entry")
        return {
            "to": data["to"],
            "body": data.get("body") or "",
            "entry": self.entries.get(entry) if entry is not None else None,
        }


def _entry_label(message: Message) -> str:
    who = message.author.get_full_name() if message.author else message.external_from or "—"
    text = " ".join(message.body.split())
    short = text[:60] + ("…" if len(text) > 60 else "")
    when = localize(timezone.localtime(message.created_at))
    return f"{when} · {who}: {short}"


class PropertiesForm(forms.Form):
    """The fields staff edit in place on the ticket page."""

    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), label=_("Category"), required=False, empty_label="—"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), label=_("Team"), required=False, empty_label="—"
    )
    assigned_to = forms.ModelChoiceField(
        queryset=User.objects.none(), label=_("Assignee"), required=False, empty_label=_("Nobody")
    )

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "status": ticket.status,
                "priority": ticket.priority,
                "category": ticket.category_id,
                "team": ticket.team_id,
                "assigned_to": ticket.assigned_to_id,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = staff_users()  # type: ignore[attr-defined]
        # The select offers only the moves the state table allows from where
        # the ticket is; a posted other move is refused by the service, with
        # its explanation.
        self.fields["status"].widget.choices = [
            (s, Status(s).label) for s in moves_from(ticket.status)
        ]


class BulkForm(forms.Form):
    ACTIONS = [
        ("assign", _("Assign to")),
        ("status", _("Set status")),
        ("priority", _("Set priority")),
        ("team", _("Move to team")),
        ("close", _("Close")),
        ("tag", _("Add tag")),
    ]
    tickets = forms.MultipleChoiceField(label=_("Tickets"), choices=[])
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), label=_("Assignee"), required=False, empty_label=_("Nobody")
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", "—"), *Status.choices], required=False
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=[("", "—"), *Priority.choices], required=False
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), label=_("Team"), required=False, empty_label="—"
    )
    tag = forms.CharField(label=_("Tag"), max_length=TAG_MAX_LENGTH, required=False, strip=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_users()  # type: ignore[attr-defined]
        posted = self.data.getlist("tickets") if hasattr(self.data, "getlist") else []
        # Any reference may be posted; the view drops those the user cannot see.
        self.fields["tickets"].choices = [(r, r) for r in posted]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action == "status" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if action == "priority" and not data.get("priority"):
            self.add_error("priority", _("Choose a priority."))
        if action == "team" and not data.get("team"):
            self.add_error("team", _("Choose a team."))
        if action == "tag" and not data.get("tag"):
            self.add_error("tag", _("Name the tag to add."))
        return data


class TransferForm(forms.Form):
    """Hand a ticket to another agent or team, with an optional reason."""

    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), label=_("To the agent"), required=False, empty_label="—"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), label=_("To the team"), required=False, empty_label="—"
    )
    reason = forms.CharField(
        label=_("Reason (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The new owner reads it in the notice; it stays in the thread for staff."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_users()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("assignee") and not data.get("team"):
            raise forms.ValidationError(_("Choose an agent or a team."))
        return data


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name of this view"), max_length=80)
    querystring = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)
    shared = forms.BooleanField(label=_("Share with all agents"), required=False)


class CannedReplyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Any")), *settings.LANGUAGES],
        required=False,
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label=_("Shared with"),
        required=False,
        empty_label=_("Only me"),
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Placeholders: {customer_name} (first name), {reference}, {subject}, "
            "{agent_name} (or {cliente}, {referencia}, {assunto}, {agente})."
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(members=user)  # type: ignore[attr-defined]

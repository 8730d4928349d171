"""What the API shows and accepts. Reads only: every write goes through
tickets.services (helpdesk.api.views), never through serializer.save()."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from helpdesk.models import User
from helpdesk.roles import STAFF_ROLES
from tickets.models import Attachment, Category, Message, Team, Ticket
from tickets.states import Priority, Status

MAX_BODY = 100_000


class PersonSerializer(serializers.ModelSerializer[User]):
    name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ("id", "name")


class UserSerializer(serializers.ModelSerializer[User]):
    name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "name", "role", "language", "is_available", "is_active")
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer[Category]):
    class Meta:
        model = Category
        fields = ("id", "name")


class TeamSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ("id", "name")


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    category = CategorySerializer(read_only=True, allow_null=True)
    team = TeamSerializer(read_only=True, allow_null=True)
    assignee = PersonSerializer(source="assigned_to", read_only=True, allow_null=True)
    requester = PersonSerializer(source="created_by", read_only=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = (
            "reference",
            "subject",
            "status",
            "status_label",
            "priority",
            "priority_label",
            "category",
            "team",
            "assignee",
            "requester",
            "tags",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
        )
        read_only_fields = fields

    def get_tags(self, ticket: Ticket) -> list[str]:
        tags = getattr(ticket, "tag_list", None)
        return [t.name for t in (ticket.tags.order_by("name") if tags is None else tags)]


class TicketCreateSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=255)
    body = serializers.CharField(max_length=MAX_BODY)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    requester_email = serializers.EmailField(
        required=False, help_text=_("Staff only: open the ticket for this customer.")
    )
    requester_name = serializers.CharField(required=False, max_length=150)


class TicketUpdateSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role__in=STAFF_ROLES, is_active=True),
        required=False,
        allow_null=True,
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text=_("The ticket's tags after the change: missing ones are added, others removed."),
    )


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    filename = serializers.CharField(source="original_name", read_only=True)

    class Meta:
        model = Attachment
        fields = ("id", "filename", "content_type", "size")
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer[Message]):
    """A thread entry as the reader may see it: html and quoted come from
    selectors.messages_visible (shown_html, shown_quoted), never from the
    stored body_html and quoted, which may hold staff-only history."""

    internal = serializers.SerializerMethodField()
    author = PersonSerializer(read_only=True, allow_null=True)
    html = serializers.CharField(source="shown_html", read_only=True)
    quoted = serializers.CharField(source="shown_quoted", read_only=True)
    # Prefetched by selectors.ticket_thread; the files themselves are at
    # /attachments/<id>/ in the panel.
    attachments = AttachmentSerializer(source="attachment_list", many=True, read_only=True)

    class Meta:
        model = Message
        fields = (
            "id",
            "kind",
            "internal",
            "author",
            "source",
            "body",
            "html",
            "quoted",
            "attachments",
            "created_at",
        )
        read_only_fields = fields

    def get_internal(self, message: Message) -> bool:
        return message.kind != Message.Kind.REPLY


class MessageCreateSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=MAX_BODY)
    internal = serializers.BooleanField(
        default=False, help_text=_("Staff only: an internal note, never shown to the customer.")
    )

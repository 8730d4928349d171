from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tickets import access
from tickets.models import (
    Attachment,
    CannedReply,
    Category,
    Message,
    RoutingRule,
    Tag,
    Team,
    Ticket,
    TicketCC,
    TicketEvent,
)


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("created_at", "kind", "author", "source", "body")
    readonly_fields = fields


class EventValues:
    """The audit trail's from/to columns with status and priority codes translated."""

    @admin.display(description=_("from"), ordering="old_value")
    def old(self, obj: TicketEvent) -> str:
        return obj.value_label(obj.old_value)

    @admin.display(description=_("to"), ordering="new_value")
    def new(self, obj: TicketEvent) -> str:
        return obj.value_label(obj.new_value)


class EventInline(EventValues, ReadOnlyInline):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "old", "new")
    readonly_fields = fields


class CCInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TicketCC
    extra = 0


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "reference",
        "subject",
        "status",
        "priority",
        "category",
        "team",
        "assigned_to",
        "created_by",
        "updated_at",
    )
    list_filter = ("status", "priority", "category", "team", "source", "created_at")
    search_fields = ("reference", "subject", "created_by__email", "created_by__full_name")
    list_select_related = ("category", "team", "assigned_to", "created_by")
    readonly_fields = (
        "reference",
        "subject",
        "status",
        "created_by",
        "source",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "linked_to",
        "merged_into",
    )
    fields = (
        *readonly_fields[:3],
        "priority",
        "category",
        "team",
        "assigned_to",
        *readonly_fields[3:],
    )
    raw_id_fields = ("assigned_to",)
    date_hierarchy = "created_at"
    inlines = (CCInline, MessageInline, EventInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return access.visible_tickets(request.user, super().get_queryset(request))

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        """Route each changed field through its service, so it is audited and announced."""
        from tickets import services

        ticket = Ticket.objects.get(pk=obj.pk)
        data, changed = form.cleaned_data, set(form.changed_data)
        if "priority" in changed:
            services.ticket_priority_set(
                ticket=ticket, priority=data["priority"], actor=request.user
            )
        if "category" in changed:
            services.ticket_category_set(
                ticket=ticket, category=data["category"], actor=request.user
            )
        if "team" in changed:
            services.ticket_team_set(ticket=ticket, team=data["team"], actor=request.user)
        if "assigned_to" in changed:
            services.ticket_assign(ticket=ticket, assignee=data["assigned_to"], actor=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened from the panel, the portal or by mail


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("ticket", "kind", "author", "source", "created_at")
    list_filter = ("kind", "source", "created_at")
    search_fields = ("ticket__reference", "message_id", "author__email")
    list_select_related = ("ticket", "author")
    readonly_fields = (
        "ticket",
        "kind",
        "author",
        "source",
        "message_id",
        "body",
        "quoted",
        "body_html",
        "is_quiet",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        qs = super().get_queryset(request)
        return qs.filter(ticket__in=access.visible_tickets(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("original_name", "ticket", "content_type", "size", "created_at")
    search_fields = ("original_name", "ticket__reference", "sha256")
    list_filter = ("content_type", "is_inline")
    list_select_related = ("ticket",)
    readonly_fields = (
        "ticket",
        "message",
        "file",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "content_id",
        "is_inline",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        qs = super().get_queryset(request)
        return qs.filter(ticket__in=access.visible_tickets(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TicketEvent)
class TicketEventAdmin(EventValues, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("ticket", "kind", "actor", "old", "new", "created_at")
    fields = ("ticket", "kind", "actor", "old", "new", "created_at")
    readonly_fields = fields
    list_filter = ("kind", "created_at")
    search_fields = ("ticket__reference", "actor__email")
    list_select_related = ("ticket", "actor")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketEvent]:
        qs = super().get_queryset(request)
        return qs.filter(ticket__in=access.visible_tickets(request.user))

    # The audit trail is append-only, even for superusers.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "default_team", "is_active")
    list_filter = ("is_active", "default_team")
    search_fields = ("name",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rename or delete tags here; staff put them on tickets from the ticket page."""

    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "assignment")
    list_filter = ("assignment",)
    search_fields = ("name", "members__email")
    filter_horizontal = ("members",)
    exclude = ("rotation_cursor",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """First match wins, in position order: the list shows that order."""

    list_display = ("position", "name", "match", "value", "team", "category", "priority")
    list_display_links = ("name",)
    list_editable = ("position",)
    list_filter = ("is_active", "match", "team")
    search_fields = ("name", "value")
    fields = ("name", "is_active", "position", "match", "value", "team", "category", "priority")


from tickets import sla_admin  # noqa: E402, F401  (registers the calendars and SLA policies)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Team and everyone's canned replies (agents keep their own at /canned/)."""

    list_display = ("name", "team", "owner", "language")
    list_filter = ("team", "language")
    search_fields = ("name", "body")
    raw_id_fields = ("owner",)

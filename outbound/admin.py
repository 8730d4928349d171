"""Admin: the outbox and its log, bounces, notification switches, email
templates with a preview, and webhook endpoints with their history."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from outbound import webhooks
from outbound.bounces import clear_bouncing
from outbound.delivery import retry_now
from outbound.models import (
    BouncingAddress,
    DeliveryAttempt,
    EmailTemplate,
    Notification,
    NotificationOptOut,
    NotificationSetting,
    OutboxItem,
    WebhookEndpoint,
    WebhookEvent,
)
from outbound.netguard import UnsafeURL, check_target, check_url
from outbound.preview import preview

_PREVIEW_CSP = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["data:"],
    "frame-ancestors": ["'self'"],
    "sandbox": [],
}


class DeliveryAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "result", "status_code", "detail", "duration_ms")
    readonly_fields = fields
    ordering = ("-attempted_at", "-id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxItem)
class OutboxItemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "kind",
        "event_label",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "created_at",
    )
    list_filter = ("status", "kind", "event")
    search_fields = ("recipient", "message_id", "dedupe_key", "ticket__reference")
    date_hierarchy = "created_at"
    actions = ("retry_selected",)
    inlines = (DeliveryAttemptInline,)
    list_select_related = ("ticket",)
    readonly_fields = (
        "kind",
        "event",
        "recipient",
        "status",
        "ticket",
        "endpoint",
        "message_id",
        "dedupe_key",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_error",
        "created_at",
        "sent_at",
        "payload_pretty",
    )
    exclude = ("payload",)

    @admin.display(description=_("event"), ordering="event")
    def event_label(self, obj: OutboxItem) -> str:
        """The mail's or webhook's kind by its name, not its code ("agent_reply")."""
        for choices in (Notification, WebhookEvent):
            if obj.event in choices.values:
                return str(choices(obj.event).label)
        return obj.event

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: OutboxItem) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("last error"))
    def short_error(self, obj: OutboxItem) -> str:
        return obj.last_error[:80]

    @admin.action(description=_("Retry now"))
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[OutboxItem]) -> None:
        count = retry_now(queryset)
        self.message_user(request, _("%(count)d items queued to be sent again.") % {"count": count})


@admin.register(BouncingAddress)
class BouncingAddressAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("email", "bounces", "reason", "first_bounced_at", "last_bounced_at")
    search_fields = ("email",)
    actions = ("clear_selected",)

    @admin.action(description=_("Clear: send mail to these addresses again"))
    def clear_selected(self, request: HttpRequest, queryset: QuerySet[BouncingAddress]) -> None:
        emails = list(queryset.values_list("email", flat=True))
        for email in emails:
            clear_bouncing(email=email)
        self.message_user(request, _("%(count)d addresses cleared.") % {"count": len(emails)})


@admin.register(NotificationSetting)
class NotificationSettingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("event", "enabled")
    list_editable = ("enabled",)


@admin.register(NotificationOptOut)
class NotificationOptOutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "event")
    list_filter = ("event",)
    search_fields = ("user__email", "user__full_name")
    autocomplete_fields = ("user",)


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "language", "updated_at", "preview_link")
    list_filter = ("name", "language")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="outbound_emailtemplate_preview",
            ),
            path(
                "<int:pk>/preview/html/",
                self.admin_site.admin_view(self.preview_html_view),
                name="outbound_emailtemplate_preview_html",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("preview"))
    def preview_link(self, obj: EmailTemplate) -> str:
        url = reverse("admin:outbound_emailtemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Preview"))

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # The permission before the lookup: 403 whether or not pk exists.
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        template = get_object_or_404(EmailTemplate, pk=pk)
        result = preview(template)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview: %(name)s") % {"name": template},
            "opts": self.model._meta,
            "original": template,
            "result": result,
        }
        return TemplateResponse(request, "admin/outbound/emailtemplate/preview.html", context)

    def preview_html_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # The permission before the lookup: 403 whether or not pk exists.
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        template = get_object_or_404(EmailTemplate, pk=pk)
        # Mail HTML relies on inline styles: it gets its own policy (no
        # scripts, sandboxed) and may be framed only by our admin page.
        response = HttpResponse(preview(template).html)
        response["X-Frame-Options"] = "SAMEORIGIN"
        cast(Any, response)._csp_config = _PREVIEW_CSP  # what csp.decorators.csp() sets
        return response


class WebhookEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url", "events", "format", "secret", "allow_private", "is_active")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise forms.ValidationError(exc.translated()) from None
        return url

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        url = data.get("url")
        if url and not data.get("allow_private"):
            try:
                check_target(url, allow_private=False)
            except UnsafeURL as exc:
                self.add_error("url", exc.translated())
        return data


class DeliveryHistoryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OutboxItem
    fk_name = "endpoint"
    extra = 0
    can_delete = False
    max_num = 0
    fields = ("created_at", "event", "status", "attempts", "last_error", "sent_at")
    readonly_fields = fields
    ordering = ("-id",)
    verbose_name = _("delivery")
    verbose_name_plural = _("delivery history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboxItem]:
        return super().get_queryset(request).order_by("-id")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = WebhookEndpointForm
    list_display = ("name", "url", "format", "is_active", "allow_private")
    list_filter = ("is_active", "format")
    actions = ("send_test_event",)
    inlines = (DeliveryHistoryInline,)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if not obj.secret:
            obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Send a test event"))
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        with transaction.atomic():
            for endpoint in queryset:
                webhooks.enqueue_test(endpoint)
        self.message_user(
            request,
            _(
                "Test events queued; the worker delivers them and the history below "
                "shows the result."
            ),
            messages.SUCCESS,
        )


class TaskResultAdmin(DBTaskResultAdmin):
    """django-tasks-db's admin with the two column titles it leaves untranslated
    (registered in outbound.apps.TasksDatabaseConfig)."""

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, obj: DBTaskResult[Any, Any]) -> str:
        return str(super().formatted_traceback(obj))

    @admin.display(description=_("run after"))
    def display_run_after(self, obj: DBTaskResult[Any, Any]) -> Any:
        return super().display_run_after(obj)

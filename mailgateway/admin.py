"""Admins see every inbound mail, the quarantine first: why it is there, the
threading verdict, the raw bytes; and re-process or discard it."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mailgateway import store
from mailgateway.errors import InboundError
from mailgateway.ingest import reprocess
from mailgateway.models import InboundMessage


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "received_at",
        "door",
        "outcome",
        "from_address",
        "subject",
        "ticket",
        "short_error",
    )
    list_filter = ("outcome", "door", "mailbox")
    search_fields = ("message_id", "from_address", "subject", "sha256")
    list_select_related = ("ticket",)
    date_hierarchy = "received_at"
    actions = ("reprocess_selected", "discard_selected")
    readonly_fields = (
        "door",
        "mailbox",
        "envelope_from",
        "envelope_rcpts",
        "message_id",
        "sha256",
        "size",
        "received_at",
        "from_address",
        "subject",
        "outcome",
        "ticket",
        "entry",
        "duplicate_of",
        "verdict_pretty",
        "raw_link",
        "error",
        "traceback",
        "attempts",
        "processed_at",
    )
    exclude = ("verdict", "raw_path")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("error"))
    def short_error(self, obj: InboundMessage) -> str:
        return obj.error.splitlines()[0][:80] if obj.error else ""

    @admin.display(description=_("verdict"))
    def verdict_pretty(self, obj: InboundMessage) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.verdict, indent=2, ensure_ascii=False))

    @admin.display(description=_("raw mail"))
    def raw_link(self, obj: InboundMessage) -> str:
        if not obj.raw_path:
            return "-"
        url = reverse("admin:mailgateway_inboundmessage_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download (.eml)"))

    def get_urls(self) -> list[URLPattern]:
        raw = path(
            "<int:pk>/raw/",
            self.admin_site.admin_view(self.raw_view),
            name="mailgateway_inboundmessage_raw",
        )
        return [raw, *super().get_urls()]

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = get_object_or_404(InboundMessage, pk=pk)
        if not obj.raw_path:
            raise Http404
        try:
            handle = (store.raw_root() / obj.raw_path).open("rb")
        except OSError:
            raise Http404 from None
        # Always a download, never rendered: the bytes are attacker-controlled.
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"inbound-{obj.pk}.eml",
            content_type="message/rfc822",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        return response

    @admin.action(
        description=_("Re-process selected mails"),
        permissions=["reprocess"],
    )
    def reprocess_selected(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        results: dict[str, int] = {}
        for row in queryset.filter(
            outcome__in=[InboundMessage.Outcome.QUARANTINED, InboundMessage.Outcome.PENDING]
        ):
            try:
                outcome = reprocess(row).outcome
            except InboundError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            results[outcome] = results.get(outcome, 0) + 1
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(results.items())) or "-"
        self.message_user(request, _("Re-processed: %(summary)s") % {"summary": summary})

    @admin.action(description=_("Discard selected mails"), permissions=["reprocess"])
    def discard_selected(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        count = queryset.filter(
            outcome__in=[InboundMessage.Outcome.QUARANTINED, InboundMessage.Outcome.PENDING]
        ).update(outcome=InboundMessage.Outcome.DISCARDED)
        self.message_user(
            request,
            ngettext("%(count)d mail discarded.", "%(count)d mails discarded.", count)
            % {"count": count},
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("mailgateway.reprocess_inboundmessage"))

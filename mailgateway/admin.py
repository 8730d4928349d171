"""Admins see every inbound mail, the quarantine first: why it is there, the
threading verdict, the raw bytes; and re-process or discard it."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.audit import audit_record
from helpdesk.models import AuditEntry
from mailgateway import store
from mailgateway.ingest import Reprocessed, Vouch, reprocess_rows
from mailgateway.models import InboundMessage
from mailgateway.verdicts import summary
from tickets import services
from tickets.models import Ticket


def _audit(what: str) -> None:
    audit_record(
        action=AuditEntry.Action.QUARANTINE,
        object_type="mailgateway.inboundmessage",
        object_repr=what,
    )


class MoveForm(forms.Form):
    reference = forms.CharField(label=_("Ticket reference"), max_length=20)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        reference = str(data.get("reference", "")).strip().upper()
        ticket = Ticket.objects.filter(reference=reference).first()
        if ticket is None:
            raise forms.ValidationError(_("No ticket %(ref)s.") % {"ref": reference})
        data["ticket"] = ticket
        return data


class HeldFilter(admin.SimpleListFilter):
    title = _("held")
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("unverified_staff", _("Unverified staff mail"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> Any:
        if self.value() == "unverified_staff":
            return queryset.filter(
                outcome=InboundMessage.Outcome.QUARANTINED, verdict__held="unverified_staff"
            )
        return queryset


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
    list_filter = ("outcome", HeldFilter, "door", "mailbox")
    search_fields = ("message_id", "from_address", "subject", "sha256")
    list_select_related = ("ticket",)
    date_hierarchy = "received_at"
    actions = (
        "reprocess_selected",
        "release_selected",
        "attach_to_ticket",
        "discard_selected",
        "split_selected",
        "move_to_ticket",
    )
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
        # The rejected candidates in words, then the stored verdict as it is.
        lines = format_html_join("", "<li>{}</li>", ((line,) for line in summary(obj.verdict)))
        rejected = format_html("<p>{}</p><ul>{}</ul>", _("Rejected candidates:"), lines)
        raw = json.dumps(obj.verdict, indent=2, ensure_ascii=False)
        return format_html("{}<pre>{}</pre>", rejected if lines else "", raw)

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
            handle = store.open_raw(obj.raw_path)
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
        done = reprocess_rows(
            queryset.filter(
                outcome__in=[InboundMessage.Outcome.QUARANTINED, InboundMessage.Outcome.PENDING]
            )
        )
        self._report(request, done, gettext("Re-processed: %(summary)s"))

    def _held(self, queryset: QuerySet[InboundMessage]) -> list[InboundMessage]:
        return list(
            queryset.filter(
                outcome=InboundMessage.Outcome.QUARANTINED, verdict__held="unverified_staff"
            )
        )

    def _vouched(self, request: HttpRequest, rows: list[InboundMessage], vouch: Vouch) -> None:
        self._report(request, reprocess_rows(rows, vouch=vouch), gettext("Released: %(summary)s"))

    def _report(self, request: HttpRequest, done: Reprocessed, message: str) -> None:
        """Audit what was done (even when an outage stopped it midway), then say it."""
        if done.counts:
            _audit(message % {"summary": done.summary})
        if done.error:
            self.message_user(request, done.error, messages.ERROR)
        else:
            self.message_user(request, message % {"summary": done.summary})

    @admin.action(
        description=_("Release held staff mail (as the agent's own)"), permissions=["reprocess"]
    )
    def release_selected(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        rows = self._held(queryset)
        if not rows:
            self.message_user(request, _("No held staff mail selected."), messages.WARNING)
            return
        self._vouched(request, rows, Vouch(by=request.user))

    @admin.action(
        description=_("Attach held staff mail to a ticket (internal note)…"),
        permissions=["reprocess"],
    )
    def attach_to_ticket(
        self, request: HttpRequest, queryset: QuerySet[InboundMessage]
    ) -> HttpResponse | None:
        rows = self._held(queryset)
        if not rows:
            self.message_user(request, _("No held staff mail selected."), messages.WARNING)
            return None
        form = MoveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._vouched(request, rows, Vouch(by=request.user, ticket=form.cleaned_data["ticket"]))
            return None
        return TemplateResponse(
            request,
            "admin/mailgateway/inboundmessage/move.html",
            {
                **self.admin_site.each_context(request),
                "rows": rows,
                "form": form,
                "action": "attach_to_ticket",
                "intro": _("Add these held mails to a ticket as internal notes of their sender:"),
                "button": _("Attach"),
            },
        )

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

    @admin.action(description=_("Split into a new ticket"))
    def split_selected(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        done = []
        for row in queryset.exclude(entry=None).select_related("entry"):
            try:
                assert row.entry is not None
                ticket = services.message_split(message=row.entry, actor=request.user)
            except PermissionDenied:
                self.message_user(request, _("Only staff can do this."), messages.ERROR)
                return
            done.append(ticket.reference)
        self.message_user(request, _("New tickets: %(refs)s") % {"refs": ", ".join(done) or "-"})

    @admin.action(description=_("Move to another ticket…"))
    def move_to_ticket(
        self, request: HttpRequest, queryset: QuerySet[InboundMessage]
    ) -> HttpResponse | None:
        rows = list(queryset.exclude(entry=None).select_related("entry", "ticket"))
        form = MoveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["ticket"]
            for row in rows:
                assert row.entry is not None
                services.message_move(message=row.entry, to_ticket=target, actor=request.user)
            self.message_user(request, _("Moved to %(ref)s.") % {"ref": target.reference})
            return None
        return TemplateResponse(
            request,
            "admin/mailgateway/inboundmessage/move.html",
            {**self.admin_site.each_context(request), "rows": rows, "form": form},
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("mailgateway.reprocess_inboundmessage"))


from mailgateway import mailbox_admin  # noqa: E402, F401  (registers the IMAP mailbox admin)

"""Admin for SLAs: business calendars (working hours and holidays inline) and policies."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tickets.models import BusinessCalendar, Holiday, SLAPolicy, WorkingHours


class WorkingHoursInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WorkingHours
    extra = 0


class HolidayInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "time_zone", "is_default")
    search_fields = ("name",)
    inlines = (WorkingHoursInline, HolidayInline)


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For each priority, the most specific policy of a ticket applies:
    category and team, then category, then team, then neither."""

    list_display = (
        "priority",
        "category",
        "team",
        "first_response_minutes",
        "resolution_minutes",
    )
    list_filter = ("priority", "category", "team")
    fieldsets = (
        (None, {"fields": ("priority", "category", "team")}),
        (
            _("Targets in business minutes (empty: none)"),
            {"fields": ("first_response_minutes", "resolution_minutes")},
        ),
    )

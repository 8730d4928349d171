"""The reports' filters (period, team, channel), read from the query string
by the dashboard and its CSV alike, so a filtered report is a bookmarkable
URL and its download the same numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets import metrics
from tickets.metrics import Filters
from tickets.models import Source, Team

DEFAULT_DAYS = 30
MAX_DAYS = 366
CUSTOM = "custom"


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[],  # __init__: labels in the request's language
    )
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("All teams")
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *[(c.value, c.label) for c in metrics.CHANNELS]],
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data if data else None, **kwargs)
        period = self.fields["period"]
        assert isinstance(period, forms.ChoiceField)
        period.choices = [
            *[(str(n), _("Last %(days)d days") % {"days": n}) for n in metrics.PERIOD_DAYS],
            (CUSTOM, _("Between dates")),
        ]
        period.initial = str(DEFAULT_DAYS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if cleaned.get("period") == CUSTOM or start or end:
            cleaned["period"] = CUSTOM
            today = timezone.localdate()
            end = end or today
            start = start or end - timedelta(days=DEFAULT_DAYS - 1)
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)d days.") % {"days": MAX_DAYS}
                )
            cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def filters(self) -> Filters:
        """The filters asked for; the default 30 days when the form is unbound
        or invalid (the page then shows why)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        team: Team | None = data.get("team")
        team_id = team.pk if team is not None else None
        channel = data.get("channel") or ""
        if data.get("period") == CUSTOM:
            return Filters.days(data["start"], data["end"], team_id=team_id, channel=channel)
        days = int(data.get("period") or DEFAULT_DAYS)
        return Filters.last_days(days, team_id=team_id, channel=channel)


def channel_label(value: str) -> str:
    return str(Source(value).label) if value in Source.values else value

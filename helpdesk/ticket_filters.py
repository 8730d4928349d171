"""The ticket list's filters, sort and paging, all read from the query string
so that any list is a bookmarkable URL. Unknown or bad values are ignored
rather than refused: an old bookmark should still open."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import F, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.models import normalize_email_address
from helpdesk.roles import is_staff_member
from helpdesk.ticket_forms import staff_users
from tickets.models import Category, Tag, Team, Ticket
from tickets.search import RANK_LIMIT, count_matches, search_tickets
from tickets.states import Priority, Status

PAGE_SIZES = (25, 50, 100)
# Query-string keys that belong to a list view (what a saved view keeps).
FILTER_KEYS = (
    "q",
    "status",
    "priority",
    "category",
    "team",
    "assignee",
    "requester",
    "created_from",
    "created_to",
    "mine",
    "due",
    "tag",
    "sort",
    "per_page",
)


# The only orderings a URL can ask for; anything else falls back to -updated.
SORTS: dict[str, Any] = {
    "reference": F("reference"),
    "subject": F("subject"),
    # Generated, indexed columns in workflow/severity order (tickets.models).
    "status": F("status_rank"),
    "priority": F("priority_rank"),
    "category": F("category__name"),
    "team": F("team__name"),
    "assignee": F("assigned_to__full_name"),
    "requester": F("created_by__email"),
    "created": F("created_at"),
    "updated": F("updated_at"),
    # The next SLA due time (a generated, indexed column); nothing due last.
    "due": F("sla_due_at"),
}
NULLS_LAST = frozenset({"due"})
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# The Due filter: breached, or due within so many hours (not breached yet).
DUE_CHOICES = [
    ("", _("Any")),
    ("breached", _("Breached")),
    ("1", _("Due within 1 hour")),
    ("4", _("Due within 4 hours")),
    ("24", _("Due within 24 hours")),
]
DEFAULT_SORT = "-updated"


class TicketFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.MultipleChoiceField(label=_("Status"), choices=Status.choices, required=False)
    priority = forms.MultipleChoiceField(
        label=_("Priority"), choices=Priority.choices, required=False
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), label=_("Category"), required=False, empty_label=_("Any")
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), label=_("Team"), required=False, empty_label=_("Any")
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    requester = forms.CharField(label=_("Requester's email"), required=False, max_length=254)
    created_from = forms.DateField(
        label=_("Created from"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    created_to = forms.DateField(
        label=_("Created until"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    mine = forms.BooleanField(label=_("Only mine"), required=False)
    due = forms.ChoiceField(label=_("SLA"), choices=DUE_CHOICES, required=False)
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.all(),
        to_field_name="name",
        label=_("Tag"),
        required=False,
        empty_label=_("Any"),
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        label=_("Per page"),
        choices=[(n, n) for n in PAGE_SIZES],
        coerce=int,
        required=False,
    )

    def __init__(
        self, *args: Any, user: Any, staff: Sequence[Any] | None = None, **kwargs: Any
    ) -> None:
        """staff: the assignable people, if the caller has them already."""
        super().__init__(*args, **kwargs)
        self.user = user
        if is_staff_member(user):
            self.fields["assignee"].choices = [  # type: ignore[attr-defined]
                ("", _("Anyone")),
                ("me", _("Me")),
                ("none", _("Nobody")),
                *[
                    (str(u.pk), u.get_full_name())
                    for u in (staff_users() if staff is None else staff)
                ],
            ]
        else:
            for name in ("category", "team", "assignee", "requester", "mine", "due", "tag"):
                del self.fields[name]

    def values(self) -> dict[str, Any]:
        """The cleaned values of the fields that were valid (invalid ones dropped)."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in ("", None)}


@dataclass(frozen=True)
class ListQuery:
    queryset: QuerySet[Ticket]
    sort: str
    per_page: int
    # False for a search matching more than RANK_LIMIT tickets: not counted.
    counted: bool = True
    # What is known of an uncounted list's size: more than this many.
    more_than: int = 0


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def apply_filters(queryset: QuerySet[Ticket], form: TicketFilterForm) -> ListQuery:
    v = form.values()
    user = form.user
    qs = queryset
    if v.get("status"):
        qs = qs.filter(status__in=v["status"])
    if v.get("priority"):
        qs = qs.filter(priority__in=v["priority"])
    if v.get("category"):
        qs = qs.filter(category=v["category"])
    if v.get("team"):
        qs = qs.filter(team=v["team"])
    if v.get("tag"):
        qs = qs.filter(tags=v["tag"])
    assignee = v.get("assignee")
    if assignee == "me":
        qs = qs.filter(assigned_to=user)
    elif assignee == "none":
        qs = qs.filter(assigned_to__isnull=True)
    elif assignee:
        qs = qs.filter(assigned_to_id=int(assignee))
    if v.get("requester"):
        # Addresses are stored normalised, so an exact match can use the unique index.
        qs = qs.filter(created_by__email=normalize_email_address(v["requester"]))
    if v.get("created_from"):
        qs = qs.filter(created_at__gte=_day_start(v["created_from"]))
    if v.get("created_to"):
        qs = qs.filter(created_at__lt=_day_start(v["created_to"] + datetime.timedelta(days=1)))
    if v.get("mine"):
        qs = qs.filter(Q(assigned_to=user) | Q(created_by=user))
    if v.get("due"):
        now = timezone.now()
        if v["due"] == "breached":
            # Bounded below too: SQLite's planner then reads the due index
            # rather than walking the newest-first one for the matches.
            qs = qs.filter(sla_due_at__gt=EPOCH, sla_due_at__lte=now)
        else:
            hours = datetime.timedelta(hours=int(v["due"]))
            qs = qs.filter(sla_due_at__gt=now, sla_due_at__lte=now + hours)
    counted = True
    if v.get("q"):
        # Staff also match internal notes; customers only what they may read.
        notes = is_staff_member(user)
        # A common word is listed newest first and not counted: ranking or
        # counting tens of thousands of matches costs more than the page.
        matches = count_matches(v["q"], include_notes=notes, limit=RANK_LIMIT, using=qs.db)
        counted = matches <= RANK_LIMIT
        qs = search_tickets(qs, v["q"], include_notes=notes, ranked=counted)
        if counted and not v.get("sort"):
            # A search without an explicit sort keeps search_tickets' relevance order.
            return ListQuery(queryset=qs, sort="", per_page=v.get("per_page") or PAGE_SIZES[0])
    sort = v.get("sort") or DEFAULT_SORT
    key = sort.removeprefix("-")
    if key not in SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    expression = SORTS[key]
    nulls = {"nulls_last": True} if key in NULLS_LAST else {}
    ordered = expression.desc(**nulls) if sort.startswith("-") else expression.asc(**nulls)
    # The id tie-breaker keeps paging stable when many rows share a value.
    qs = qs.order_by(ordered, "-id" if sort.startswith("-") else "id")
    return ListQuery(
        queryset=qs,
        sort=sort,
        per_page=v.get("per_page") or PAGE_SIZES[0],
        counted=counted,
        more_than=0 if counted else RANK_LIMIT,
    )


def filter_querystring(params: QueryDict) -> str:
    """The list-defining part of a query string (no page number), for saved views."""
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        values = [x for x in params.getlist(key) if x]
        if values:
            kept.setlist(key, values)
    return kept.urlencode()

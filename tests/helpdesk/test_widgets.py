"""The template filter that writes plain selects itself gives exactly what
Django's widget templates give, for every select the pages render."""

from typing import Any

import pytest
from django import forms
from django.http import QueryDict

from helpdesk.account_forms import ProfileForm
from helpdesk.templatetags.helpdesk_tags import _plain_select, widget, widget_attrs
from helpdesk.ticket_filters import TicketFilterForm
from helpdesk.ticket_forms import PropertiesForm, ReplyForm, TicketCreateForm
from tickets.models import Category, Team, Ticket


class _Odd(forms.Form):
    grouped = forms.ChoiceField(
        choices=[("", "—"), ("Cores", [("r", "Red & <b>"), ("g", "Green")]), ("x", 'Say "x"')]
    )
    many = forms.MultipleChoiceField(choices=[(1, "one"), (2, "two"), (3, "three")])
    disabled = forms.ChoiceField(choices=[("a", "A")], disabled=True, required=False)


def _selects(form: forms.BaseForm) -> list[Any]:
    return [form[name] for name in form.fields if _plain_select(form[name])]


def _forms(agent: Any, ticket: Ticket) -> list[forms.BaseForm]:
    return [
        TicketFilterForm(QueryDict(""), user=agent),
        TicketFilterForm(
            QueryDict(f"status=open&status=closed&priority=x&team={ticket.team_id or 1}"),
            user=agent,
        ),
        PropertiesForm(ticket=ticket),
        ReplyForm(user=agent),
        ReplyForm({"set_status": "bad"}, user=agent),
        TicketCreateForm(user=agent),
        ProfileForm(instance=agent),
        _Odd(),
        _Odd({"grouped": "r", "many": ["1", "3"]}),
    ]


@pytest.mark.django_db
def test_plain_selects_are_written_as_djangos_templates_write_them(
    agent: Any, ticket: Ticket, team: Team, category: Category
) -> None:
    ticket.team, ticket.category, ticket.assigned_to = team, category, agent
    seen = 0
    for form in _forms(agent, ticket):
        form.is_bound and form.is_valid()
        for field in _selects(form):
            assert widget(field) == field.as_widget(attrs=widget_attrs(field)), field.name
            seen += 1
    assert seen >= 15


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_datefmt_and_iso_write_what_the_date_filter_writes(language: str) -> None:
    import datetime

    from django.template import Context, Template
    from django.utils import timezone, translation

    template = Template(
        "{% load helpdesk_tags %}{% for v in values %}"
        "{{ v|date:'c' }}|{{ v|iso }}"
        "|{{ v|date:'DATETIME_FORMAT' }}|{{ v|datefmt:'DATETIME_FORMAT' }}"
        "|{{ v|date:'SHORT_DATETIME_FORMAT' }}|{{ v|datefmt:'SHORT_DATETIME_FORMAT' }}"
        "|{{ v|date:'jS \\d\\e F, P e' }}|{{ v|datefmt:'jS \\d\\e F, P e' }}\n{% endfor %}"
    )
    start = datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.UTC)
    values = [
        start + datetime.timedelta(days=d * 37, hours=h, minutes=m)
        for d in range(10)
        for h, m in ((0, 0), (12, 0), (15, 7), (23, 59))
    ]
    with translation.override(language), timezone.override("America/Sao_Paulo"):
        for line in template.render(Context({"values": values})).splitlines():
            parts = line.split("|")
            assert parts[0::2] == parts[1::2], line

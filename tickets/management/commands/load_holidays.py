"""`manage.py load_holidays`: add Brazil's national holidays of the coming years."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tickets.calendar import holidays_load
from tickets.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "Add Brazil's national holidays (and Carnival and Corpus Christi) from this year on "
        "to every business calendar, or to --calendar NAME. Days a calendar lists already "
        "keep their name; run it once a year (the migration loaded five years)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--years", type=int, default=5, help="how many years (default 5)")
        parser.add_argument("--calendar", help="only the calendar of this name")

    def handle(self, *args: Any, years: int, calendar: str | None, **options: Any) -> None:
        if years < 1:
            raise CommandError("--years must be at least 1")
        calendars = BusinessCalendar.objects.all()
        if calendar:
            calendars = calendars.filter(name=calendar)
            if not calendars.exists():
                raise CommandError(f"No business calendar is called {calendar!r}.")
        this_year = timezone.localdate().year
        for cal in calendars:
            added = holidays_load(calendar=cal, years=range(this_year, this_year + years))
            self.stdout.write(f"{cal.name}: {added} holidays added")

"""`manage.py sla_check`: record SLA warnings and breaches that are due (cron, every 5 minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tickets import services, sla


class Command(BaseCommand):
    help = (
        "Record on each ticket the SLA targets about to be breached "
        "(HELPDESK_SLA_WARNING_MINUTES before; the assignee or team is warned by mail) and "
        "those breached, once each. Safe to run while another copy runs. Prints nothing "
        "under cron unless something was recorded."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = services.sla_check()
        if any(counts.values()) or options["verbosity"] > 1:
            self.stdout.write(
                f"sla_check: {counts[sla.WARNING]} warnings, {counts[sla.BREACH]} breaches"
            )

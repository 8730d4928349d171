import json
from typing import Any

from django.core.management.base import BaseCommand

from helpdesk.health import report


class Command(BaseCommand):
    help = "Print the /healthz report as JSON; exit 0 when healthy, 1 otherwise."

    def handle(self, *args: Any, **options: Any) -> None:
        result = report()
        self.stdout.write(json.dumps(result, indent=2, sort_keys=True, default=str))
        if not result["ok"]:
            raise SystemExit(1)

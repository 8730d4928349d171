from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from tickets.search_schema import repair_after_migrate

        # SQLite table rebuilds in later migrations drop the search triggers.
        post_migrate.connect(
            repair_after_migrate, sender=self, dispatch_uid="tickets_search_repair"
        )

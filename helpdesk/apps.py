from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = _("Helpdesk")

    def ready(self) -> None:
        from helpdesk import audit, checks, health  # noqa: F401  (checks: the system checks)
        from helpdesk.accounts import ensure_role_groups
        from helpdesk.drafts import clear_sent_draft
        from helpdesk.notifications import notify_on_ticket_change
        from helpdesk.ops import probes
        from tickets import events

        audit.connect()
        events.subscribe(notify_on_ticket_change)
        events.subscribe(clear_sent_draft)
        health.register("migrations", probes.migrations_probe)
        health.register("worker", probes.worker_probe)
        health.register("scheduler", probes.scheduler_probe)
        health.register("disk", probes.disk_probe)
        from config import objectstore

        if objectstore.configured():
            health.register("object_store", probes.object_store_probe)

        def _groups(sender: Any, **kwargs: Any) -> None:
            ensure_role_groups(using=kwargs.get("using", "default"))

        # Groups need the permissions created by every app's migrations first.
        post_migrate.connect(_groups, dispatch_uid="helpdesk_role_groups", weak=False)

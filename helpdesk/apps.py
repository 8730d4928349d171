from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = _("Helpdesk")

    def ready(self) -> None:
        from helpdesk import checks  # noqa: F401  (registers the system checks)
        from helpdesk.accounts import ensure_role_groups
        from helpdesk.drafts import clear_sent_draft
        from helpdesk.notifications import notify_on_ticket_change
        from tickets import events

        events.subscribe(notify_on_ticket_change)
        events.subscribe(clear_sent_draft)

        def _groups(sender: Any, **kwargs: Any) -> None:
            ensure_role_groups(using=kwargs.get("using", "default"))

        # Groups need the permissions created by every app's migrations first.
        post_migrate.connect(_groups, dispatch_uid="helpdesk_role_groups", weak=False)

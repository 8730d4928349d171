from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailgatewayConfig(AppConfig):
    name = "mailgateway"
    verbose_name = _("Mail gateway")

    def ready(self) -> None:
        from helpdesk import health
        from mailgateway.health import quarantine_probe

        health.register("quarantine", quarantine_probe)

        from mailgateway.ingest import follow_moved_entry
        from tickets import events

        events.subscribe(follow_moved_entry)

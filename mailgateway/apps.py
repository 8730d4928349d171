from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailgatewayConfig(AppConfig):
    name = "mailgateway"
    verbose_name = _("Mail gateway")

    def ready(self) -> None:
        from anymail.signals import inbound

        from helpdesk import health
        from mailgateway import esp, imap_health
        from mailgateway.health import quarantine_probe

        health.register("quarantine", quarantine_probe)
        health.register("imap", imap_health.probe)
        inbound.connect(esp.on_inbound, dispatch_uid="mailgateway_esp_inbound")

        from mailgateway.ingest import follow_moved_entry
        from tickets import events

        events.subscribe(follow_moved_entry)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = _("Outbound")

    def ready(self) -> None:
        from anymail.signals import tracking

        from helpdesk import health
        from outbound import notify, webhooks
        from outbound.health import outbox_probe
        from outbound.tracking import on_tracking
        from tickets import events

        events.subscribe(notify.on_ticket_changed)
        events.subscribe(webhooks.on_ticket_changed)
        health.register("outbox", outbox_probe)
        tracking.connect(on_tracking, dispatch_uid="outbound_bounces", weak=False)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_tasks_db.apps import TasksAppConfig


class OutboundConfig(AppConfig):
    default = True  # the module holds two configs: this is the app's own
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


class TasksDatabaseConfig(TasksAppConfig):
    """django-tasks-db, named in the reader's language in the admin (its own
    name is plain English, out of any catalogue's reach)."""

    verbose_name = _("Background tasks")  # type: ignore[assignment]  # lazy, as Django allows

    def ready(self) -> None:
        super().ready()
        # The admin registered django-tasks-db's ModelAdmin already (admin is
        # the first app); ours only translates two column titles it hard-codes.
        from django.contrib import admin
        from django_tasks_db.models import DBTaskResult

        from outbound.admin import TaskResultAdmin

        admin.site.unregister(DBTaskResult)
        admin.site.register(DBTaskResult, TaskResultAdmin)

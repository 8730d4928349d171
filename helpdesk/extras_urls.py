"""URLs of the web panel's extras: notifications, presence, drafts, feedback,
language and the satisfaction report (included from helpdesk.urls)."""

from django.urls import path

from helpdesk.views import feedback, language, notifications, presence, reports, system

urlpatterns = [
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/bell/", notifications.bell, name="notification_bell"),
    path("notifications/read/", notifications.notifications_mark_read, name="notifications_read"),
    path("notifications/<int:pk>/open/", notifications.notification_open, name="notification_open"),
    path(
        "tickets/<str:reference>/seen/",
        notifications.ticket_notifications_seen,
        name="ticket_notifications_seen",
    ),
    path("availability/", presence.availability_set, name="availability_set"),
    path("tickets/<str:reference>/presence/", presence.ticket_presence, name="ticket_presence"),
    path(
        "tickets/<str:reference>/presence/leave/",
        presence.ticket_presence_leave,
        name="ticket_presence_leave",
    ),
    path("tickets/<str:reference>/draft/", presence.ticket_draft, name="ticket_draft"),
    path("tickets/<str:reference>/confirm/", feedback.ticket_confirm, name="ticket_confirm"),
    path("tickets/<str:reference>/reopen/", feedback.ticket_reopen, name="ticket_reopen"),
    path("tickets/<str:reference>/rate/", feedback.ticket_rate, name="ticket_rate"),
    path("language/", language.language_set, name="language_set"),
    path("reports/", reports.dashboard, name="reports"),
    path("reports/export.csv", reports.export_csv, name="reports_export"),
    path("reports/satisfaction/", reports.satisfaction_report, name="satisfaction_report"),
    path("system/", system.system, name="system"),
    path("system/outbox/retry/", system.system_retry_outbox, name="system_retry_outbox"),
    path(
        "system/quarantine/reprocess/",
        system.system_reprocess_quarantine,
        name="system_reprocess_quarantine",
    ),
]

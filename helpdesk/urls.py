from django.urls import include, path

from helpdesk.api.pages import api_tokens
from helpdesk.views import (
    accounts,
    attachments,
    canned,
    feedback,
    health,
    home,
    mail_frames,
    ticket_detail,
    ticket_links,
    ticket_mail,
    ticket_new,
    tickets,
)

# Every route here must also appear in the expected table of
# tests/helpdesk/test_authorization_matrix.py, which fails otherwise.
urlpatterns = [
    *accounts.urlpatterns,
    path("accounts/tokens/", api_tokens, name="api_tokens"),
    path("healthz", health.healthz, name="healthz"),
    # Confirm / reopen / rate from a signed mail link (helpdesk.feedback).
    path("feedback/<str:token>/", feedback.feedback, name="ticket_feedback"),
    path("tickets/", tickets.ticket_list, name="ticket_list"),
    path("tickets/new/", ticket_new.ticket_new, name="ticket_new"),
    path("tickets/bulk/", tickets.ticket_bulk, name="ticket_bulk"),
    path("tickets/views/", tickets.saved_view_create, name="saved_view_create"),
    path("tickets/views/<int:pk>/delete/", tickets.saved_view_delete, name="saved_view_delete"),
    path("tickets/<str:reference>/", ticket_detail.ticket_detail, name="ticket_detail"),
    path("tickets/<str:reference>/thread/", ticket_detail.ticket_thread, name="ticket_thread"),
    path("tickets/<str:reference>/live/", ticket_detail.ticket_live, name="ticket_live"),
    path("tickets/<str:reference>/reply/", ticket_detail.ticket_reply, name="ticket_reply"),
    path("tickets/<str:reference>/forward/", ticket_detail.ticket_forward, name="ticket_forward"),
    path("tickets/<str:reference>/take/", ticket_detail.ticket_take, name="ticket_take"),
    path("tickets/<str:reference>/merge/", ticket_links.ticket_merge, name="ticket_merge"),
    path("tickets/<str:reference>/tags/", ticket_links.ticket_tags, name="ticket_tags"),
    path(
        "tickets/<str:reference>/transfer/", ticket_detail.ticket_transfer, name="ticket_transfer"
    ),
    path(
        "tickets/<str:reference>/properties/",
        ticket_detail.ticket_properties,
        name="ticket_properties",
    ),
    path(
        "tickets/<str:reference>/messages/<int:pk>/move/",
        ticket_mail.message_move,
        name="message_move",
    ),
    path(
        "tickets/<str:reference>/messages/<int:pk>/split/",
        ticket_mail.message_split,
        name="message_split",
    ),
    path(
        "tickets/<str:reference>/messages/<int:pk>/html/",
        mail_frames.message_html,
        name="message_html",
    ),
    path("attachments/<int:pk>/", attachments.attachment_download, name="attachment_download"),
    path("attachments/<int:pk>/view/", attachments.attachment_inline, name="attachment_inline"),
    path(
        "attachments/<int:pk>/message/", mail_frames.attachment_message, name="attachment_message"
    ),
    path(
        "attachments/<int:pk>/parts/<int:index>/",
        mail_frames.attachment_part,
        name="attachment_part",
    ),
    path("canned/", canned.canned_list, name="canned_list"),
    path("canned/<int:pk>/delete/", canned.canned_delete, name="canned_delete"),
    path("", include("helpdesk.extras_urls")),
    path("", home.home, name="home"),
]

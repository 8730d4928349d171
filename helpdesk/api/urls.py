from django.urls import path

from helpdesk.api import views
from helpdesk.plugins import api_urlpatterns

app_name = "api"

# Every route here must also appear in tests/api/test_permission_matrix.py,
# which fails otherwise. Plugins' routes (plugins/<label>/, added below) are
# there only when the plugin is installed: each plugin's tests own theirs.
urlpatterns = [
    path("", views.ApiRoot.as_view(), name="root"),
    path("tickets/", views.TicketList.as_view(), name="ticket-list"),
    path("tickets/<str:reference>/", views.TicketDetail.as_view(), name="ticket-detail"),
    path(
        "tickets/<str:reference>/messages/",
        views.TicketMessages.as_view(),
        name="ticket-messages",
    ),
    path("categories/", views.CategoryList.as_view(), name="category-list"),
    path("teams/", views.TeamList.as_view(), name="team-list"),
    path("me/", views.Me.as_view(), name="me"),
    path("users/", views.UserList.as_view(), name="user-list"),
    *api_urlpatterns(),
]

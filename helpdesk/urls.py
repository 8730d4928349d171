from django.contrib.auth import views as auth_views
from django.urls import path

from helpdesk.views import feedback, health, home

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    # Confirm / reopen / rate from a signed mail link (helpdesk.feedback).
    path("feedback/<str:token>/", feedback.feedback, name="ticket_feedback"),
    path("", home.home, name="home"),
]

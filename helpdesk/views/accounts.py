"""Sign up, email verification, log in/out, password reset and change, profile."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk import verification
from helpdesk.account_forms import (
    HelpdeskLoginForm,
    HelpdeskPasswordResetForm,
    ProfileForm,
    SignupForm,
)
from helpdesk.accounts import user_create
from helpdesk.models import User
from helpdesk.roles import Role


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        existing = User.objects.filter(email=data["email"]).first()
        if existing is not None:
            # Same page as for a new address, so sign-up cannot be used to
            # learn who has an account; the owner is told by mail instead.
            # And the same time: a new account hashes the password (about
            # half a second with the production hasher), so this path hashes
            # it too and throws the hash away; without it a known address
            # answered 60 times faster (found by tests/access/test_a8_timing.py).
            make_password(data["password"])
            verification.send_already_registered(existing)
        else:
            try:
                with transaction.atomic():
                    user = user_create(
                        email=data["email"],
                        full_name=data["full_name"],
                        role=Role.CUSTOMER,
                        password=data["password"],
                        email_verified=False,
                        language=getattr(request, "LANGUAGE_CODE", "pt-br"),
                    )
            except IntegrityError:
                user = User.objects.get(email=data["email"])
                verification.send_already_registered(user)
            else:
                verification.send_verification(user)
        return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html")


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST verifies: GET never changes data, and mail
    scanners that pre-fetch links do not verify on the person's behalf."""
    user = verification.user_for_token(token)
    if user is None:
        return render(request, "registration/verify_email.html", {"invalid": True}, status=400)
    if request.method == "POST":
        if not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
        messages.success(request, _("Your email address is verified. Thank you!"))
        return redirect("home" if request.user.is_authenticated else "login")
    return render(request, "registration/verify_email.html", {"verified_user": user})


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not user.email_verified:
        verification.send_verification(user)
    messages.success(
        request, _("We sent a new verification link to %(email)s.") % {"email": user.email}
    )
    return redirect("ticket_new")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = ProfileForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Profile saved."))
        response = redirect("profile")
        return response
    return render(request, "registration/profile.html", {"form": form})


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """Following the reset link proves the mailbox is theirs: mark it verified."""

    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: object) -> HttpResponse:
        response = super().form_valid(form)  # type: ignore[arg-type]
        user = self.user  # type: ignore[attr-defined]
        if user is not None and not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
        return response


urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=HelpdeskLoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/signup/done/", signup_done, name="signup_done"),
    path("accounts/verify/resend/", verify_email_resend, name="verify_email_resend"),
    path("accounts/verify/<str:token>/", verify_email, name="verify_email"),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            form_class=HelpdeskPasswordResetForm,
            email_template_name="emails/password-reset-body.txt",
            subject_template_name="emails/password-reset-subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        ResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/profile/", profile, name="profile"),
]

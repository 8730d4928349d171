"""The panel page where a user creates and revokes their API tokens."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from helpdesk.api.models import ApiToken
from helpdesk.api.tokens import token_create, token_revoke
from helpdesk.models import User

EXPIRY_CHOICES = [
    (30, gettext_lazy("30 days")),
    (90, gettext_lazy("90 days")),
    (365, gettext_lazy("1 year")),
    (0, gettext_lazy("Never")),
]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the token is for, e.g. the script that uses it."),
    )
    days = forms.TypedChoiceField(
        label=gettext_lazy("Expires after"), choices=EXPIRY_CHOICES, coerce=int, initial=90
    )


# never_cache: the page that shows a new secret must not be kept by a cache.
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens. POST name/days: a new one, its secret shown on
    this answer only. POST revoke=<id>: revoke one of the user's own."""
    user = request.user
    assert isinstance(user, User)
    form = TokenForm()
    secret = ""
    if request.method == "POST":
        if "revoke" in request.POST:
            wanted = request.POST["revoke"]
            token = ApiToken.objects.filter(
                user=user, pk=int(wanted) if wanted.isdigit() else 0
            ).first()
            if token is None:
                raise Http404
            token_revoke(token=token)
            messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
            return redirect("api_tokens")
        form = TokenForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["days"]
            expires = timezone.now() + datetime.timedelta(days=days) if days else None
            _token, secret = token_create(
                user=user, name=form.cleaned_data["name"], expires_at=expires
            )
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=user)
    status = 400 if form.errors else 200
    return render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": tokens, "secret": secret, "now": timezone.now()},
        status=status,
    )

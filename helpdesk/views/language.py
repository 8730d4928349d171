"""The language switcher: Django's set_language cookie, plus the account's
saved language for a signed-in user (which UserLanguageMiddleware prefers)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from helpdesk.models import User


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    response = set_language(request)
    code = request.POST.get("language", "")
    user = request.user
    valid = {c for c, _ in User._meta.get_field("language").choices or []}
    if (
        isinstance(user, User)
        and code in valid
        and check_for_language(code)
        and user.language != code
    ):
        user.language = code
        user.save(update_fields=["language"])
    return response

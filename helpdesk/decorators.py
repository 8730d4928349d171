"""Access decorators for views. Object-level rules (whose ticket is this?) stay
in tickets.access and the selectors; these only gate whole pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from helpdesk.roles import is_staff_member

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Anonymous → login page; signed-in non-staff → 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_member(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def is_htmx(request: HttpRequest) -> bool:
    """A partial-page request from htmx. A boosted link and a history restore
    (the back button after the page's cache is gone) want the whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and not headers.get("HX-Boosted")
        and headers.get("HX-History-Restore-Request") != "true"
    )

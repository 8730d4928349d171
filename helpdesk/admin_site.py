"""The admin site: Django's, except two answers that told staff whether an
object they may not see exists (found by the A2 IDOR sweep,
tests/access/test_a2_idor.py).

- "View on site" (/admin/r/<type>/<id>/) redirected any staff member to any
  object's page: an agent learned the reference of another team's ticket from
  its id. Here it redirects only to an object the user's ModelAdmin shows
  them (for tickets, the team rule of tickets.access), and is a 404 otherwise,
  as for a missing one.
- An object's history looked the object up before the permission: a missing
  id was a redirect "does not exist", an existing one a 403. Here the model
  permission comes first: 403 for both.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path


class PermissionFirstHistory:
    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc,no-any-return]


class HelpdeskAdminSite(admin.AdminSite):
    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        # Every app's ModelAdmin (ours, django_tasks_db's, auth's Group) gets
        # the permission-first history, whoever wrote it.
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, PermissionFirstHistory):
            base = type(
                base.__name__, (PermissionFirstHistory, base), {"__module__": base.__module__}
            )
        super().register(model_or_iterable, base, **options)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super().get_urls()
        for index, pattern in enumerate(urls):
            if getattr(pattern, "name", None) == "view_on_site":
                urls[index] = path(
                    "r/<path:content_type_id>/<path:object_id>/",
                    self.admin_view(self.view_on_site),
                    name="view_on_site",
                )
        return urls

    def view_on_site(
        self, request: HttpRequest, content_type_id: str, object_id: str
    ) -> HttpResponse:
        try:
            model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
        except (ValueError, ContentType.DoesNotExist):
            raise Http404 from None
        model_admin = self._registry.get(model) if model is not None else None
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            raise Http404
        # get_object reads the ModelAdmin's queryset, which applies the
        # access policy, and takes a malformed id for a missing one.
        if model_admin.get_object(request, unquote(object_id)) is None:
            raise Http404
        return contenttype_views.shortcut(request, content_type_id, object_id)

"""The schema and its Swagger UI, served from our own static files.

drf-spectacular's split view delivers Swagger UI's start-up script as a
separate request, so the page runs under the project's CSP (script-src
'self', no inline script); our template also drops the upstream inline
<style> for a stylesheet of ours."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import permissions


class SchemaView(SpectacularAPIView):
    permission_classes = (permissions.AllowAny,)


class DocsView(SpectacularSwaggerSplitView):
    permission_classes = (permissions.AllowAny,)
    template_name = "api/swagger_ui.html"
    url_name = "api_schema"

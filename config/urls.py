from django.contrib import admin
from django.urls import include, path

from helpdesk.api.docs import DocsView, SchemaView
from helpdesk.plugins import page_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # ESP webhooks (django-anymail): tracking events mark bouncing recipients;
    # inbound mail goes to the pipeline (mailgateway.esp).
    path("anymail/", include("anymail.urls")),
    path("api/v1/", include("helpdesk.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api_schema"),
    path("api/docs/", DocsView.as_view(), name="api_docs"),
    # Pages of the plugins in HELPDESK_PLUGINS, /plugins/<label>/ (helpdesk.plugins).
    path("plugins/", include(page_urlpatterns())),
    path("", include("helpdesk.urls")),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # ESP webhooks (django-anymail): tracking events mark bouncing recipients;
    # inbound mail goes to the pipeline (mailgateway.esp).
    path("anymail/", include("anymail.urls")),
    path("", include("helpdesk.urls")),
]

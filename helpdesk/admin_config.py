"""Django's admin app with our site (helpdesk.admin_site), named in
INSTALLED_APPS. A module of its own: the site's module imports models, which
an app config's module must not."""

from django.contrib.admin.apps import AdminConfig


class HelpdeskAdminConfig(AdminConfig):
    default_site = "helpdesk.admin_site.HelpdeskAdminSite"

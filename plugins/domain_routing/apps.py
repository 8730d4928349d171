from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DomainRoutingConfig(AppConfig):
    name = "plugins.domain_routing"
    label = "domain_routing"
    verbose_name = _("Domain routing")

    def ready(self) -> None:
        # Every extension point is registered here, once per process; the
        # names make a second ready() (autoreload, tests) replace, not add.
        from django.core import checks
        from django.urls import path

        from helpdesk import plugins
        from plugins.domain_routing import api, rules, views

        checks.register(rules.check_config)
        plugins.add_mail_filter(self.label, rules.mail_filter)
        plugins.add_routing_rule(self.label, rules.routing_rule)
        plugins.on_ticket_changed(self.label, rules.remember_routed)
        plugins.add_pages(self.label, [path("", views.index, name="index")])
        plugins.add_nav_item(self.label, label=_("Domain routing"), url_name="domain_routing:index")
        plugins.add_api_routes(self.label, [path("rules/", api.RuleList.as_view(), name="rules")])

"""The extension points a plugin uses (README "Plugins").

A plugin is an ordinary Django app named in HELPDESK_PLUGINS (installed
after our own apps). Its AppConfig.ready() calls the functions below; each
takes a name, and registering a name again replaces the first, so ready()
may run twice (the test runner, autoreload) without doubling anything.

- on_ticket_changed: hear the domain's ticket events (tickets.events);
- add_mail_filter: judge inbound mail before threading (mailgateway.filters);
- add_routing_rule: route new tickets (tickets.routing);
- add_pages / add_nav_item: pages under /plugins/<label>/ and links in the
  main navigation for the roles you name;
- add_api_routes: API endpoints under /api/v1/plugins/<label>/.

The domain registries stay in the domain (tickets/) and in the mail gateway;
this module is the one place a plugin needs to import.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, include, path
from django.utils.functional import Promise

from helpdesk.roles import STAFF_ROLES
from mailgateway import filters
from mailgateway.filters import FilterResult, IncomingMail, MailFilter
from tickets import events, routing
from tickets.events import Subscriber, TicketChanged
from tickets.routing import Arrival, Route, RoutingRuleFunction

__all__ = [
    "Arrival",
    "FilterResult",
    "IncomingMail",
    "MailFilter",
    "NavItem",
    "Route",
    "RoutingRuleFunction",
    "Subscriber",
    "TicketChanged",
    "add_api_routes",
    "add_mail_filter",
    "add_nav_item",
    "add_pages",
    "add_routing_rule",
    "on_ticket_changed",
]

log = logging.getLogger("helpdesk.plugins")

Patterns = Sequence[URLPattern | URLResolver]
_subscribers: dict[str, Subscriber] = {}  # name -> what tickets.events holds for it
_pages: dict[str, Patterns] = {}
_api_routes: dict[str, Patterns] = {}
_nav: dict[str, NavItem] = {}


def on_ticket_changed(name: str, subscriber: Subscriber, *, in_transaction: bool = False) -> None:
    """Call subscriber(changes) with the ticket changes (TicketChanged, a
    sequence: one, or a mail batch's) announced by tickets.services.

    By default it runs after the change committed (never for a change that
    rolled back), and an exception it raises is logged and swallowed: the
    change, and the mail that caused it, are safe whatever the plugin does.
    Do network I/O there, or queue a task.

    in_transaction=True runs it inside the change's transaction instead, like
    our own subscribers (outbound mail): what it writes commits with the
    change, and an exception it raises undoes the change (a mail that caused
    it is quarantined, raw bytes kept, re-processable). No network I/O there."""
    old = _subscribers.pop(name, None)
    if old is not None:
        events.unsubscribe(old)
    wrapped = subscriber if in_transaction else _after_commit(name, subscriber)
    _subscribers[name] = wrapped
    events.subscribe(wrapped)


def remove_ticket_subscriber(name: str) -> None:
    old = _subscribers.pop(name, None)
    if old is not None:
        events.unsubscribe(old)


def _after_commit(name: str, subscriber: Subscriber) -> Subscriber:
    def deliver(changes: Sequence[TicketChanged]) -> None:
        batch = list(changes)  # the hold's list is reused once delivered

        def run() -> None:
            try:
                subscriber(batch)
            except Exception:
                log.exception("ticket subscriber %s failed (the change itself is committed)", name)

        transaction.on_commit(run)

    return deliver


def add_mail_filter(name: str, function: MailFilter) -> None:
    """Run function(IncomingMail) -> FilterResult | None on every inbound
    person's mail and auto-reply, before threading (mailgateway.filters)."""
    filters.add_filter(name, function)


def add_routing_rule(name: str, rule: RoutingRuleFunction) -> None:
    """Route new tickets the admin's rules leave alone: rule(Arrival) ->
    Route | None (tickets.routing)."""
    routing.add_rule(name, rule)


def add_pages(label: str, urlpatterns: Patterns) -> None:
    """Serve urlpatterns under /plugins/<label>/, in the URL namespace label
    (reverse("<label>:<name>")). The views check who may see them
    (helpdesk.decorators.staff_required, login_required)."""
    _pages[label] = list(urlpatterns)


@dataclass(frozen=True)
class NavItem:
    label: str | Promise  # translatable: gettext_lazy
    url_name: str  # reversed per request: "<label>:<name>"
    roles: frozenset[str]  # helpdesk.roles.Role values that see it


def add_nav_item(
    name: str, *, label: str | Promise, url_name: str, roles: Iterable[str] = STAFF_ROLES
) -> None:
    """A link in the main navigation, shown to signed-in users whose role is
    in roles (default: staff). It hides nothing: the page checks access."""
    _nav[name] = NavItem(label, url_name, frozenset(str(r) for r in roles))


def remove_nav_item(name: str) -> None:
    _nav.pop(name, None)


def add_api_routes(label: str, urlpatterns: Patterns) -> None:
    """Serve API views (DRF) under /api/v1/plugins/<label>/, in the URL
    namespace api:<label>. They get the API's authentication (tokens,
    session), throttling, errors and schema; set permission_classes."""
    _api_routes[label] = list(urlpatterns)


def page_urlpatterns() -> list[URLResolver]:
    """For config.urls: every plugin's pages."""
    return [path(f"{label}/", include((p, label))) for label, p in _pages.items()]


def api_urlpatterns() -> list[URLResolver]:
    """For helpdesk.api.urls: every plugin's API routes."""
    return [path(f"plugins/{label}/", include((p, label))) for label, p in _api_routes.items()]


def nav_items(request: HttpRequest) -> list[NavItem]:
    """The plugins' navigation entries the request's user may see."""
    user = request.user
    if not _nav or not user.is_authenticated:
        return []
    role = getattr(user, "role", "")
    return [item for item in _nav.values() if role in item.roles]

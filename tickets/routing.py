"""Where a new ticket goes: its team, and the category and priority a rule sets.

Admins write the rules (RoutingRule); they are tried in position order and
the first that matches wins. Then the rules plugins registered (add_rule), in
registration order: an admin's rule can always override a plugin's. What no
rule routes goes to its category's team, else to HELPDESK_DEFAULT_TEAM, so no
ticket sits in nobody's queue unless the admin leaves that setting empty. A
team decided before routing (Arrival.team: a mail filter's hint) wins over
every rule. The ticket keeps, in Ticket.routed_by, which of these sent it where.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import DatabaseError
from django.utils.translation import gettext as _

from tickets.models import Category, RoutingRule, Team


@dataclass(frozen=True)
class Arrival:
    """What is known of a new ticket when it arrives."""

    addresses: tuple[str, ...] = ()  # the support addresses a mail was sent to
    mailbox: str = ""  # the IMAP mailbox it was read from
    sender: str = ""
    subject: str = ""
    category: Category | None = None  # chosen on the web form (or a mail filter's hint)
    # A team decided before routing (a mail filter's hint) and who decided it
    # ("filter:<name>", kept in Ticket.routed_by).
    team: Team | None = None
    decided_by: str = ""


@dataclass(frozen=True)
class Route:
    team: Team | None = None
    category: Category | None = None
    priority: str = ""
    # For Ticket.routed_by: "rule:<name>", "category" or "default" (data,
    # translated where it is shown).
    by: str = ""


def _matches(rule: RoutingRule, arrival: Arrival) -> bool:
    value = rule.value.strip().casefold()
    if not value:
        return False
    if rule.match == RoutingRule.Match.ADDRESS:
        return any(fnmatch.fnmatchcase(a.casefold(), value) for a in arrival.addresses)
    if rule.match == RoutingRule.Match.MAILBOX:
        return arrival.mailbox.casefold() == value
    if rule.match == RoutingRule.Match.SENDER_DOMAIN:
        domain = arrival.sender.rpartition("@")[2].casefold()
        value = value.lstrip("@")
        return bool(domain) and (domain == value or domain.endswith("." + value))
    if rule.match == RoutingRule.Match.SUBJECT:
        pattern = r"(?<!\w)" + re.escape(value) + r"(?!\w)"
        return re.search(pattern, arrival.subject.casefold()) is not None
    if rule.match == RoutingRule.Match.CATEGORY:
        return arrival.category is not None and arrival.category.name.casefold() == value
    return False


RoutingRuleFunction = Callable[[Arrival], Route | None]
_plugin_rules: dict[str, RoutingRuleFunction] = {}
log = logging.getLogger("tickets.routing")


def add_rule(name: str, rule: RoutingRuleFunction) -> None:
    """Register a plugin's routing rule under name (registering a name again
    replaces it). rule(arrival) returns a Route for the tickets it routes,
    None for the others; it runs inside the transaction that opens the
    ticket, after the admin's rules found nothing. A rule that raises is
    logged and skipped (routing falls through to the next one), except for a
    database error, which fails the transaction as any other would."""
    _plugin_rules[name] = rule


def remove_rule(name: str) -> None:
    _plugin_rules.pop(name, None)


def _plugin_route(arrival: Arrival) -> Route | None:
    for name, rule in list(_plugin_rules.items()):
        try:
            found = rule(arrival)
        except DatabaseError:
            raise  # the transaction is broken: the caller's failure path handles it
        except Exception:
            # A broken plugin must not stop tickets from opening (a mail
            # would be quarantined, a web form would fail).
            log.exception("routing rule %s failed; skipped", name)
            continue
        if found is not None and (found.team is not None or found.category is not None):
            category = arrival.category or found.category
            team = found.team or (category.default_team if category else None) or default_team()
            return replace(found, team=team, category=category, by=f"plugin:{name}"[:200])
    return None


def default_team() -> Team | None:
    name = (getattr(settings, "HELPDESK_DEFAULT_TEAM", "") or "").strip()
    return Team.objects.filter(name=name).first() if name else None


def route(arrival: Arrival) -> Route:
    """The team decided before routing, else the first matching rule's route
    (the admin's, then the plugins'), else the category's team, else the
    default team."""
    if arrival.team is not None:
        return Route(arrival.team, arrival.category, "", arrival.decided_by[:200])
    rules = RoutingRule.objects.filter(is_active=True).select_related("team", "category")
    for rule in rules:
        if _matches(rule, arrival):
            category = arrival.category or rule.category
            team = rule.team or (category.default_team if category else None) or default_team()
            return Route(team, category, rule.priority, f"rule:{rule.name}"[:200])
    if _plugin_rules and (found := _plugin_route(arrival)) is not None:
        return found
    category = arrival.category
    if category is not None and category.default_team_id is not None:
        return Route(category.default_team, category, "", "category")
    team = default_team()
    return Route(team, category, "", "default" if team else "")


def routed_by_label(routed_by: str) -> str:
    """Ticket.routed_by in the reader's language."""
    if routed_by.startswith("rule:"):
        return _("rule “%(name)s”") % {"name": routed_by.removeprefix("rule:")}
    if routed_by.startswith("filter:"):
        return _("mail filter “%(name)s”") % {"name": routed_by.removeprefix("filter:")}
    if routed_by.startswith("plugin:"):
        return _("plugin rule “%(name)s”") % {"name": routed_by.removeprefix("plugin:")}
    if routed_by == "category":
        return _("the category's team")
    if routed_by == "default":
        return _("the default team")
    return routed_by

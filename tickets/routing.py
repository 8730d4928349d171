"""Where a new ticket goes: its team, and the category and priority a rule sets.

Admins write the rules (RoutingRule); they are tried in position order and
the first that matches wins. What no rule routes goes to its category's
team, else to HELPDESK_DEFAULT_TEAM, so no ticket sits in nobody's queue
unless the admin leaves that setting empty. The ticket keeps, in
Ticket.routed_by, which of these sent it where.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from tickets.models import Category, RoutingRule, Team


@dataclass(frozen=True)
class Arrival:
    """What is known of a new ticket when it arrives."""

    addresses: tuple[str, ...] = ()  # the support addresses a mail was sent to
    mailbox: str = ""  # the IMAP mailbox it was read from
    sender: str = ""
    subject: str = ""
    category: Category | None = None  # chosen on the web form


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


def default_team() -> Team | None:
    name = (getattr(settings, "HELPDESK_DEFAULT_TEAM", "") or "").strip()
    return Team.objects.filter(name=name).first() if name else None


def route(arrival: Arrival) -> Route:
    """The first matching rule's route, else the category's team, else the default team."""
    rules = RoutingRule.objects.filter(is_active=True).select_related("team", "category")
    for rule in rules:
        if _matches(rule, arrival):
            category = arrival.category or rule.category
            team = rule.team or (category.default_team if category else None) or default_team()
            return Route(team, category, rule.priority, f"rule:{rule.name}"[:200])
    category = arrival.category
    if category is not None and category.default_team_id is not None:
        return Route(category.default_team, category, "", "category")
    team = default_team()
    return Route(team, category, "", "default" if team else "")


def routed_by_label(routed_by: str) -> str:
    """Ticket.routed_by in the reader's language."""
    if routed_by.startswith("rule:"):
        return _("rule “%(name)s”") % {"name": routed_by.removeprefix("rule:")}
    if routed_by == "category":
        return _("the category's team")
    if routed_by == "default":
        return _("the default team")
    return routed_by

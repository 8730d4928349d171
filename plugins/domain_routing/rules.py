"""The plugin's configuration and what it does with it: the mail filter, the
routing rule, the after-commit subscriber and the overview the page and the
API show.

DOMAIN_ROUTING (a setting, else the environment variable of that name) is a
comma-separated list of DOMAIN=WHAT entries:

    acme.com=Billing:acme   mail from acme.com or a subdomain: team Billing, tag "acme"
    acme.com=Billing        the team only
    acme.com=:acme          the tag only (the routing rules choose the team)
    spam.example=drop       dropped: stored, recorded as discarded, no ticket

The most specific domain wins (eu.acme.com=… before acme.com=…).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.utils import timezone

from helpdesk.plugins import Arrival, FilterResult, IncomingMail, Route, TicketChanged
from tickets.models import Tag, Team
from tickets.states import ACTIVE_STATUSES

DROP = "drop"
LABEL = "domain_routing"
REMEMBER_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class DomainRule:
    domain: str
    team: str = ""  # a Team's name
    tag: str = ""
    drop: bool = False


@functools.lru_cache(maxsize=8)
def parse(raw: str) -> tuple[DomainRule, ...]:
    """DOMAIN_ROUTING's rules, most specific domain first; ValueError names a bad entry."""
    found: dict[str, DomainRule] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        domain, sep, what = (part.strip() for part in entry.partition("="))
        domain = domain.lstrip("@").casefold()
        if not sep or not domain or "@" in domain or " " in domain or not what:
            raise ValueError(f"{entry!r} is not DOMAIN=TEAM:TAG, DOMAIN=TEAM or DOMAIN=drop")
        if domain in found:
            raise ValueError(f"{domain} is named twice")
        if what.casefold() == DROP:
            found[domain] = DomainRule(domain, drop=True)
            continue
        team, _, tag = (part.strip() for part in what.partition(":"))
        if not team and not tag:
            raise ValueError(f"{entry!r} names neither a team nor a tag")
        found[domain] = DomainRule(domain, team=team, tag=tag)
    return tuple(sorted(found.values(), key=lambda r: (-r.domain.count("."), r.domain)))


def configured() -> tuple[DomainRule, ...]:
    raw = getattr(settings, "DOMAIN_ROUTING", None)
    if raw is None:
        raw = os.environ.get("DOMAIN_ROUTING", "")
    return parse(str(raw))


def rule_for(address: str, rules: Sequence[DomainRule]) -> DomainRule | None:
    domain = address.rpartition("@")[2].casefold()
    if not domain:
        return None
    for rule in rules:
        if domain == rule.domain or domain.endswith("." + rule.domain):
            return rule
    return None


def check_config(**kwargs: Any) -> list[checks.CheckMessage]:
    """A typo in DOMAIN_ROUTING is a startup error, not a mail filter that
    fails on every mail."""
    try:
        configured()
    except ValueError as exc:
        return [
            checks.Error(
                f"DOMAIN_ROUTING: {exc}",
                hint="e.g. DOMAIN_ROUTING=acme.com=Billing:acme,spam.example=drop",
                id="domain_routing.E001",
            )
        ]
    return []


def mail_filter(incoming: IncomingMail) -> FilterResult | None:
    """Mail from a configured domain: dropped, or a team and a tag for its ticket."""
    rule = rule_for(incoming.sender, configured())
    if rule is None:
        return None
    if rule.drop:
        return FilterResult.drop(f"sender domain {rule.domain} is dropped")
    return FilterResult.keep(
        team=rule.team,
        tags=(rule.tag,) if rule.tag else (),
        reason=f"sender domain {rule.domain}",
    )


def routing_rule(arrival: Arrival) -> Route | None:
    """The same teams for tickets opened on the web or by the API (mail
    arrives with its team already decided by the filter)."""
    rule = rule_for(arrival.sender, configured())
    if rule is None or rule.drop or not rule.team:
        return None
    team = Team.objects.filter(name__iexact=rule.team).first()
    return Route(team=team) if team is not None else None


def remember_routed(changes: Sequence[TicketChanged]) -> None:
    """After commit: the last ticket each configured domain opened, for the page."""
    rules = configured()
    if not rules:
        return
    for change in changes:
        if change.kind != "created" or change.ticket.created_by_id is None:
            continue
        rule = rule_for(change.ticket.created_by.email, rules)
        if rule is not None and not rule.drop:
            cache.set(
                _last_key(rule.domain),
                {"reference": change.ticket.reference, "at": timezone.now().isoformat()},
                REMEMBER_SECONDS,
            )


def _last_key(domain: str) -> str:
    return f"{LABEL}:last:{domain}"


@dataclass(frozen=True)
class RuleRow:
    domain: str
    action: str  # "route" or "drop"
    team: str
    team_exists: bool
    tag: str
    open_tickets: int  # active tickets carrying the tag
    last_reference: str  # the last ticket the domain opened (since the cache was cleared)


def overview() -> list[RuleRow]:
    """Every rule with what it did: two queries whatever the number of rules."""
    rules = configured()
    team_names = {r.team.casefold() for r in rules if r.team}
    tag_names = {r.tag.casefold() for r in rules if r.tag}
    teams: set[str] = set()
    if team_names:
        teams = set(
            Team.objects.annotate(key=Lower("name"))
            .filter(key__in=team_names)
            .values_list("key", flat=True)
        )
    counts: dict[str, int] = {}
    if tag_names:
        counts = dict(
            Tag.objects.annotate(key=Lower("name"))
            .filter(key__in=tag_names)
            .annotate(n=Count("tickets", filter=Q(tickets__status__in=ACTIVE_STATUSES)))
            .values_list("key", "n")
        )
    last = cache.get_many([_last_key(r.domain) for r in rules])
    return [
        RuleRow(
            domain=r.domain,
            action=DROP if r.drop else "route",
            team=r.team,
            team_exists=r.team.casefold() in teams,
            tag=r.tag,
            open_tickets=counts.get(r.tag.casefold(), 0),
            last_reference=(last.get(_last_key(r.domain)) or {}).get("reference", ""),
        )
        for r in rules
    ]

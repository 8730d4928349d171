"""Mail filters: a plugin's say over an inbound mail before it is threaded.

A filter is a function registered with add_filter(name, function), usually
in a plugin's AppConfig.ready(). It gets an IncomingMail (the parsed mail
and how it came) and returns None (no opinion) or a FilterResult:

- keep (the default), with hints: tags for the ticket the mail creates or
  joins, and a team, category and priority for a ticket it creates (a
  team hint wins over the routing rules; tickets.routing);
- drop: the mail becomes no ticket entry; its row records it as discarded,
  with the filter and its reason in the verdict (the raw bytes were stored
  before any filter ran: durability rule 1);
- quarantine: held with the reason, shown to admins like any other
  quarantined mail, and re-processable (the filters run again then).

Filters run in registration order inside the ingest transaction; the first
drop or quarantine ends the run. Hints add up: every filter's tags, and the
first team, category and priority named.

They see every person's mail and auto-reply; loops and bounces are handled
before them, and a staff mail an admin releases (a vouch) skips them. A
filter only decides: it must not write to the database (its hints do that,
through tickets.services).

A filter that raises is logged and its failure recorded in the verdict; the
mail goes on as if the filter had no opinion, because a broken spam scorer
must not hold every mail. A database error is different: the transaction
cannot go on, so the mail takes ingest's ordinary failure path (a transient
error leaves it pending for the door to retry, any other quarantines it).
Either way the mail is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import DatabaseError

from mailgateway.parse import InboundEmail
from tickets.states import Priority

log = logging.getLogger("mailgateway.filters")


@dataclass(frozen=True)
class IncomingMail:
    """What a filter sees: the parsed mail and how it arrived."""

    mail: InboundEmail
    kind: str  # the classifier's verdict: "person" or "autoreply"
    door: str  # smtp, lmtp, imap, pipe, esp
    mailbox: str = ""
    envelope_from: str = ""
    envelope_rcpts: tuple[str, ...] = ()

    @property
    def sender(self) -> str:
        """The From address, lower-cased ("" when it has none)."""
        return self.mail.sender

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


class Action(StrEnum):
    KEEP = "keep"
    DROP = "drop"
    QUARANTINE = "quarantine"


@dataclass(frozen=True)
class FilterResult:
    action: Action = Action.KEEP
    reason: str = ""  # why (stable text, stored in the verdict)
    tags: tuple[str, ...] = ()
    team: str = ""  # a Team's name
    category: str = ""  # a Category's name
    priority: str = ""  # a tickets.states.Priority value

    @classmethod
    def keep(
        cls,
        *,
        tags: tuple[str, ...] = (),
        team: str = "",
        category: str = "",
        priority: str = "",
        reason: str = "",
    ) -> FilterResult:
        return cls(Action.KEEP, reason, tuple(tags), team, category, priority)

    @classmethod
    def drop(cls, reason: str) -> FilterResult:
        return cls(Action.DROP, reason)

    @classmethod
    def quarantine(cls, reason: str) -> FilterResult:
        return cls(Action.QUARANTINE, reason)


MailFilter = Callable[[IncomingMail], FilterResult | None]
_filters: dict[str, MailFilter] = {}


def add_filter(name: str, function: MailFilter) -> None:
    """Register function as the mail filter called name (a name registered
    again replaces the first: re-running ready() is harmless)."""
    _filters[name] = function


def remove_filter(name: str) -> None:
    _filters.pop(name, None)


@dataclass
class Decision:
    """What the filters decided together."""

    action: Action = Action.KEEP
    reason: str = ""
    by: str = ""  # the filter that dropped or quarantined the mail
    tags: list[str] = field(default_factory=list)
    team: str = ""
    team_by: str = ""
    category: str = ""
    priority: str = ""
    # One entry per filter that had an opinion or failed, for the verdict.
    trail: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, result: FilterResult) -> None:
        entry = {"filter": name, "action": result.action.value}
        if result.reason:
            entry["reason"] = result.reason[:500]
        self.trail.append(entry)
        if result.action != Action.KEEP:
            self.action, self.reason, self.by = result.action, result.reason, name
            return
        for tag in result.tags:
            if tag.strip() and tag.casefold() not in {t.casefold() for t in self.tags}:
                self.tags.append(tag.strip())
        if result.team and not self.team:
            self.team, self.team_by = result.team, name
        self.category = self.category or result.category
        if result.priority and not self.priority:
            if result.priority in Priority.values:
                self.priority = result.priority
            else:
                entry["ignored"] = f"unknown priority {result.priority!r}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action.value, "trail": self.trail}
        if self.tags:
            out["tags"] = self.tags
        for key in ("team", "category", "priority"):
            if value := getattr(self, key):
                out[key] = value
        return out


def run(incoming: IncomingMail) -> Decision | None:
    """The registered filters' say on incoming; None when none had an opinion
    (the mail's verdict then shows no trace of them)."""
    if not _filters:
        return None
    decision = Decision()
    for name, function in list(_filters.items()):
        try:
            result = function(incoming)
        except DatabaseError:
            raise
        except Exception as exc:
            log.exception("mail filter %s failed; the mail goes on without it", name)
            decision.trail.append(
                {"filter": name, "action": "error", "reason": f"{type(exc).__name__}: {exc}"[:500]}
            )
            continue
        if result is None:
            continue
        decision.add(name, result)
        if decision.action != Action.KEEP:
            break
    return decision if decision.trail else None

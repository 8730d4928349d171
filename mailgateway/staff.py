"""Agents working by mail: first-line commands in a reply.

    #note                      the mail becomes an internal note
    #public (or #reply)        the mail is a public reply, even when it
                               answers a staff-only notice
    #status resolved|waiting|closed|open|in_progress
    #assign me|<email>
    #priority low|medium|high|urgent
    #canned NAME               the canned reply NAME, filled in, starts the body

Command lines must come first (one per line); the first other line starts the
body. Unknown commands are left in the body untouched. Portuguese words work
too (#nota, #publico, #resposta, #prioridade alta, #atribuir eu).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from tickets import services
from tickets.canned import canned_find, canned_render
from tickets.models import Ticket
from tickets.states import InvalidTransition, Priority, Status

_COMMAND = re.compile(
    r"^#(note|nota|interno|public|publico|público|reply|resposta|status|assign|atribuir"
    r"|priority|prioridade|canned|pronta)\b\s*(.*)$",
    re.IGNORECASE,
)
_NAMES = {
    "nota": "note",
    "interno": "note",
    "publico": "public",
    "público": "public",
    "reply": "public",
    "resposta": "public",
    "atribuir": "assign",
    "prioridade": "priority",
    "pronta": "canned",
}
_STATUS_WORDS = {
    "resolved": Status.RESOLVED,
    "resolvido": Status.RESOLVED,
    "waiting": Status.WAITING_CUSTOMER,
    "waiting_customer": Status.WAITING_CUSTOMER,
    "aguardando": Status.WAITING_CUSTOMER,
    "closed": Status.CLOSED,
    "fechado": Status.CLOSED,
    "open": Status.OPEN,
    "aberto": Status.OPEN,
    "in_progress": Status.IN_PROGRESS,
    "andamento": Status.IN_PROGRESS,
}
_PRIORITY_WORDS = {
    **{p: p for p in Priority.values},
    "baixa": Priority.LOW,
    "media": Priority.MEDIUM,
    "média": Priority.MEDIUM,
    "alta": Priority.HIGH,
    "urgente": Priority.URGENT,
}


@dataclass
class StaffCommands:
    internal: bool = False  # #note
    public: bool = False  # #public
    canned: str = ""  # #canned NAME
    commands: list[tuple[str, str]] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return self.internal or self.public or bool(self.canned) or bool(self.commands)


def parse_commands(text: str) -> tuple[StaffCommands, str]:
    """(commands, body without the command lines)."""
    result = StaffCommands()
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line and result.any:
            index += 1
            continue
        match = _COMMAND.match(line)
        if not match:
            break
        word, arg = match.group(1).lower(), match.group(2).strip().lower()
        name = _NAMES.get(word, word)
        if name == "canned":
            result.canned = match.group(2).strip()
        elif name == "note":
            result.internal = True
        elif name == "public":
            result.public = True
        else:
            result.commands.append((name, arg))
        index += 1
    if not result.any:
        return result, text
    return result, "\n".join(lines[index:]).strip()


def expand_canned(
    *, ticket: Ticket, commands: StaffCommands, text: str, actor: Any
) -> tuple[str, str]:
    """(body with the named canned reply put first, a line for staff when it
    was not found)."""
    if not commands.canned:
        return text, ""
    canned = canned_find(actor, commands.canned)
    if canned is None:
        with translation.override(getattr(actor, "language", "") or None):
            return text, _("Mail command #canned %(value)s: there is no such canned reply.") % {
                "value": commands.canned
            }
    filled = canned_render(canned, ticket=ticket, agent=actor)
    return (f"{filled}\n\n{text}" if text else filled), ""


def apply_commands(*, ticket: Ticket, commands: StaffCommands, actor: Any) -> list[str]:
    """Run the commands as actor; one line per command saying what it did (or
    why not), in the actor's language: they are for staff, never the customer."""
    with translation.override(getattr(actor, "language", "") or None):
        return [_apply(ticket, name, arg, actor) for name, arg in commands.commands]


def _apply(ticket: Ticket, name: str, arg: str, actor: Any) -> str:
    word = arg.split(" ")[0] if arg else ""
    try:
        if name == "status":
            target = _STATUS_WORDS.get(word)
            if target is None:
                return _("Mail command #status %(value)s: unknown status.") % {"value": arg}
            if ticket.status != target:
                services.ticket_transition(ticket=ticket, to=target, actor=actor)
            return _("Mail command: status set to %(status)s.") % {"status": Status(target).label}
        if name == "priority":
            priority = _PRIORITY_WORDS.get(word)
            if priority is None:
                return _("Mail command #priority %(value)s: unknown priority.") % {"value": arg}
            services.ticket_priority_set(ticket=ticket, priority=priority, actor=actor)
            return _("Mail command: priority set to %(priority)s.") % {
                "priority": Priority(priority).label
            }
        # assign
        if word in {"me", "eu", "mim"}:
            assignee = actor
        else:
            assignee = get_user_model().objects.filter(email=word.strip("<>")).first()
            if assignee is None:
                return _("Mail command #assign %(value)s: there is no such agent.") % {"value": arg}
        services.ticket_assign(ticket=ticket, assignee=assignee, actor=actor)
        return _("Mail command: ticket assigned to %(name)s.") % {
            "name": assignee.get_full_name() or assignee.email
        }
    except (InvalidTransition, PermissionDenied, ValidationError) as exc:
        return _("Mail command #%(command)s %(value)s was refused: %(reason)s") % {
            "command": name,
            "value": arg,
            "reason": _reason(exc),
        }


def _reason(exc: Exception) -> str:
    if isinstance(exc, InvalidTransition):
        return _("the ticket cannot move from %(old)s to %(new)s.") % {
            "old": Status(exc.old).label if exc.old in Status.values else exc.old,
            "new": Status(exc.new).label if exc.new in Status.values else exc.new,
        }
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    return _("you may not do this on this ticket.")

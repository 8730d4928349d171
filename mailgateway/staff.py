"""Agents working by mail: first-line commands in a reply.

    #note                      the mail becomes an internal note
    #status resolved|waiting|closed|open|in_progress
    #assign me|<email>
    #priority low|medium|high|urgent

Command lines must come first (one per line); the first other line starts the
body. Unknown commands are left in the body untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from tickets import services
from tickets.models import Ticket
from tickets.states import InvalidTransition, Priority, Status

_COMMAND = re.compile(r"^#(note|status|assign|priority)\b\s*(.*)$", re.IGNORECASE)
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
}


@dataclass
class StaffCommands:
    internal: bool = False
    commands: list[tuple[str, str]] = field(default_factory=list)


def parse_commands(text: str) -> tuple[StaffCommands, str]:
    """(commands, body without the command lines)."""
    result = StaffCommands()
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line and (result.internal or result.commands):
            index += 1
            continue
        match = _COMMAND.match(line)
        if not match:
            break
        name, arg = match.group(1).lower(), match.group(2).strip().lower()
        if name == "note":
            result.internal = True
        else:
            result.commands.append((name, arg))
        index += 1
    if not (result.internal or result.commands):
        return result, text
    return result, "\n".join(lines[index:]).strip()


def apply_commands(*, ticket: Ticket, commands: StaffCommands, actor: Any) -> list[str]:
    """Run the commands as actor; one confirmation (or refusal) line per command."""
    done: list[str] = []
    for name, arg in commands.commands:
        try:
            if name == "status":
                target = _STATUS_WORDS.get(arg.split(" ")[0] if arg else "")
                if target is None:
                    done.append(f"#status {arg}: unknown status")
                    continue
                if ticket.status != target:
                    services.ticket_transition(ticket=ticket, to=target, actor=actor)
                done.append(f"#status {target}: ok")
            elif name == "priority":
                word = arg.split(" ")[0] if arg else ""
                if word not in Priority.values:
                    done.append(f"#priority {arg}: unknown priority")
                    continue
                services.ticket_priority_set(ticket=ticket, priority=word, actor=actor)
                done.append(f"#priority {word}: ok")
            elif name == "assign":
                if arg in {"me", "eu", "mim"}:
                    assignee = actor
                else:
                    assignee = get_user_model().objects.filter(email=arg.strip("<>")).first()
                    if assignee is None:
                        done.append(f"#assign {arg}: no such agent")
                        continue
                services.ticket_assign(ticket=ticket, assignee=assignee, actor=actor)
                done.append(f"#assign {assignee.email}: ok")
        except (InvalidTransition, PermissionDenied, ValidationError) as exc:
            done.append(f"#{name} {arg}: refused ({exc})")
    return done

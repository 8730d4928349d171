"""Ticket status, priority and the one table of allowed status moves."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# Every legal move, and only those. A customer reply on a waiting or resolved
# ticket reopens it (-> open); reopening a closed ticket is allowed here and the
# reopen window is a policy the mail gateway applies before asking.
ALLOWED: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset(
        {Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.OPEN, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}
    ),
    Status.WAITING_CUSTOMER: frozenset(
        {Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    ),
    Status.RESOLVED: frozenset({Status.OPEN, Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}

ACTIVE_STATUSES = frozenset({Status.OPEN, Status.IN_PROGRESS, Status.WAITING_CUSTOMER})


def moves_from(status: str) -> list[str]:
    """The statuses a ticket in status may take, itself first, in workflow order."""
    allowed = ALLOWED.get(status, frozenset())
    return [status, *[s for s in Status.values if s in allowed]]


class InvalidTransition(ValueError):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        super().__init__(f"A ticket cannot move from '{old}' to '{new}'.")


def check_transition(old: str, new: str) -> None:
    """Raise InvalidTransition unless old -> new is in the table."""
    if new not in Status.values:
        raise InvalidTransition(old, new)
    if new not in ALLOWED.get(old, frozenset()):
        raise InvalidTransition(old, new)

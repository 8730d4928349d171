import itertools

import pytest

from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.states import ALLOWED, InvalidTransition, Status, check_transition

ALL_PAIRS = [(a, b) for a, b in itertools.product(Status.values, repeat=2)]
LEGAL = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED[a]]


def test_it_has_a_row_for_every_status() -> None:
    assert set(ALLOWED) == set(Status.values)
    assert len(LEGAL) == 16 and len(ILLEGAL) == 9


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_it_allows_legal_moves(old: str, new: str) -> None:
    check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_it_refuses_illegal_moves_naming_both_states(old: str, new: str) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(old, new)
    assert f"'{old}'" in str(info.value) and f"'{new}'" in str(info.value)


def test_it_refuses_unknown_status() -> None:
    with pytest.raises(InvalidTransition, match="'bogus'"):
        check_transition(Status.OPEN, "bogus")


def _force(ticket: Ticket, status: str) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    ticket.refresh_from_db()


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_service_applies_legal_moves_with_audit(
    ticket: Ticket, agent: object, old: str, new: str
) -> None:
    _force(ticket, old)
    services.ticket_transition(ticket=ticket, to=new, actor=agent)
    ticket.refresh_from_db()
    assert ticket.status == new
    event = TicketEvent.objects.filter(ticket=ticket, kind="status").latest("id")
    assert (event.old_value, event.new_value, event.actor) == (old, new, agent)
    if new == Status.RESOLVED:
        assert ticket.resolved_at is not None
    if new == Status.CLOSED:
        assert ticket.closed_at is not None
    if new == Status.OPEN:
        assert ticket.closed_at is None and ticket.resolved_at is None


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_service_refuses_illegal_moves_and_changes_nothing(
    ticket: Ticket, agent: object, old: str, new: str
) -> None:
    _force(ticket, old)
    events_before = TicketEvent.objects.count()
    with pytest.raises(InvalidTransition):
        services.ticket_transition(ticket=ticket, to=new, actor=agent)
    ticket.refresh_from_db()
    assert ticket.status == old
    assert TicketEvent.objects.count() == events_before

"""Every filter and column sort of the ticket list can use an index (EXPLAIN on
SQLite and PostgreSQL); status and priority sort by generated rank columns.
Sorting by a related name (category, team, assignee, requester) cannot use
an index on the tickets table: those are measured in bench/web.py instead."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.http import QueryDict

from helpdesk.ticket_filters import TicketFilterForm, apply_filters
from tickets import selectors
from tickets.models import Category, Team, Ticket

FILTERS = [
    "",
    "status=open",
    "status=open&status=waiting_customer",
    "priority=high",
    "category={category}",
    "team={team}",
    "assignee=me",
    "assignee=none",
    "assignee={agent}",
    "requester=carla@cliente.com.br",
    "created_from=2026-01-01&created_to=2026-02-01",
    "mine=on",
    "status=open&priority=high&team={team}",
    "q=impressora",
    "q=impressora&status=open",
    "due=breached",
    "due=4",
]
SORTS = [
    "reference",
    "-reference",
    "subject",
    "-subject",
    "status",
    "-status",
    "priority",
    "-priority",
    "created",
    "-created",
    "updated",
    # Soonest due first, nothing due last. (-due, nothing due last too, is read
    # from the index on SQLite; PostgreSQL sorts, the index holding NULLs last.)
    "due",
]


def _plan(queryset: Any) -> str:
    sql, params = queryset[:25].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # With few rows PostgreSQL rightly prefers a sequential scan; forbid
        # it to learn whether an index could serve the query at all.
        with transaction.atomic():
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(str(row[0]) for row in cursor.fetchall())


def _lines(plan: str) -> list[str]:
    return [line.strip() for line in plan.splitlines()]


def _full_scan(plan: str) -> bool:
    """The tickets table read whole (a plain scan, or an index walked end to end)."""
    if connection.vendor == "sqlite":
        return any(line.startswith("SCAN tickets_ticket") for line in _lines(plan))
    return "Seq Scan on tickets_ticket" in plan or (
        "tickets_ticket" in plan and "Index Cond" not in plan and "Filter" in plan
    )


@pytest.fixture
def list_for(agent: Any, category: Category, team: Team, ticket: Ticket) -> Any:
    def build(query: str) -> Any:
        query = query.format(category=category.pk, team=team.pk, agent=agent.pk)
        form = TicketFilterForm(QueryDict(query), user=agent)
        return apply_filters(selectors.ticket_list(user=agent), form).queryset

    return build


@pytest.mark.parametrize("query", FILTERS)
def test_each_filter_uses_an_index(list_for: Any, query: str) -> None:
    plan = _plan(list_for(query))
    if query:
        assert not _full_scan(plan), plan
    elif connection.vendor == "sqlite":
        # No filter: the newest-first index is walked and stops after a page.
        assert "USING INDEX ticket_updated_idx" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan on tickets_ticket" not in plan, plan
        # (updated_at, id) in one index: no sort of tickets sharing a time.
        assert "Index Scan Backward using ticket_updated_idx" in plan, plan
        assert "Sort" not in plan, plan


@pytest.mark.parametrize("sort", SORTS)
def test_each_column_sort_uses_an_index(list_for: Any, sort: str) -> None:
    plan = _plan(list_for(f"sort={sort}"))
    # The index gives the order, so a page reads only its own rows.
    if connection.vendor == "sqlite":
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan on tickets_ticket" not in plan and "Index Scan" in plan, plan


@pytest.mark.parametrize(
    "query", ["q=impressora", "q=impressora&status=open", "q=impres&sort=-created"]
)
def test_a_search_for_a_common_word_is_read_in_index_order(
    list_for: Any, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above RANK_LIMIT matches nothing is ranked: the list's order comes from
    # an index on the tickets and each ticket is tested as it is read.
    monkeypatch.setattr("helpdesk.ticket_filters.RANK_LIMIT", 0)
    queryset = list_for(query)
    assert "search_rank" not in str(queryset.query)
    plan = _plan(queryset)
    if connection.vendor == "sqlite":
        assert "USING INDEX" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        assert "Seq Scan on tickets_ticket" not in plan and "Index Scan" in plan, plan
        assert "tickets_search_match" not in plan, plan

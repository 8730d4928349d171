"""The SQLite search triggers survive table rebuilds by later migrations."""

import importlib
import re
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.signals import post_migrate

from tickets import search_schema, services
from tickets.models import Ticket
from tickets.search import search_tickets

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_the_repair_statements_are_the_migrations() -> None:
    migration = importlib.import_module("tickets.migrations.0003_search_index")
    created = {
        re.search(r"CREATE TRIGGER (\w+)", sql).group(1): _normal(sql)  # type: ignore[union-attr]
        for sql in migration.SQLITE_FORWARD
        if "CREATE TRIGGER" in sql
    }
    assert created == {name: _normal(sql) for name, sql in search_schema.SQLITE_TRIGGERS.items()}
    assert _normal(search_schema.SQLITE_REINDEX[1]) == _normal(migration.SQLITE_FORWARD[-1])


def test_it_puts_back_triggers_a_table_rebuild_dropped(ticket: Ticket, agent: Any) -> None:
    assert search_schema.missing_triggers() == []
    # What a table rebuild does to the triggers of the dropped table.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER tickets_search_message_ins")
        cursor.execute("DROP TRIGGER tickets_search_ticket_ins")
    services.ticket_reply_add(ticket=ticket, author=agent, body="Troca do fusor agendada.")
    assert list(search_tickets(Ticket.objects.all(), "fusor")) == []
    post_migrate.send(
        sender=apps.get_app_config("tickets"),
        app_config=apps.get_app_config("tickets"),
        verbosity=0,
        interactive=False,
        using="default",
        plan=[],
        apps=apps,
    )
    assert search_schema.missing_triggers() == []
    assert list(search_tickets(Ticket.objects.all(), "fusor")) == [ticket]
    services.ticket_reply_add(ticket=ticket, author=agent, body="Fusor trocado, cilindro ok.")
    assert list(search_tickets(Ticket.objects.all(), "cilindro")) == [ticket]


def test_it_analyses_a_rebuilt_table_when_the_others_have_statistics(ticket: Ticket) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        # What a table rebuild leaves: no statistics for that one table.
        cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'tickets_ticket'")
    assert "tickets_ticket" in search_schema.refresh_statistics()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tickets_ticket'")
        assert cursor.fetchone()[0] > 0
    # Empty tables never get statistics; the analysed one is now left alone.
    assert "tickets_ticket" not in search_schema.refresh_statistics()

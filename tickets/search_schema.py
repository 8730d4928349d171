"""Keeps the SQLite search triggers alive across later migrations.

SQLite cannot alter most columns in place, so Django's schema editor
rebuilds a table (create a copy, move the rows, drop the old one) for many
AlterField/RemoveField operations, and dropping a table drops its triggers.
After every migrate this puts back any search trigger that went missing and
then reindexes every ticket, since writes made in between went unindexed.
PostgreSQL alters tables in place, so its triggers survive.

The statements are the ones migration 0003_search_index creates
(tests/search/test_search_schema.py keeps the two identical).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

_REBUILD_BODIES = """
    public_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
        WHERE ticket_id = {tid} AND kind = 'reply'), ''),
    note_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
        WHERE ticket_id = {tid} AND kind = 'note'), '')
"""

SQLITE_TRIGGERS: dict[str, str] = {
    "tickets_search_ticket_ins": """
    CREATE TRIGGER tickets_search_ticket_ins AFTER INSERT ON tickets_ticket BEGIN
        INSERT INTO tickets_search(rowid, reference, subject, public_body, note_body)
        VALUES (NEW.id, NEW.reference, NEW.subject, '', '');
    END
    """,
    "tickets_search_ticket_upd": """
    CREATE TRIGGER tickets_search_ticket_upd AFTER UPDATE OF reference, subject ON tickets_ticket
    WHEN OLD.reference IS NOT NEW.reference OR OLD.subject IS NOT NEW.subject BEGIN
        UPDATE tickets_search SET reference = NEW.reference, subject = NEW.subject
        WHERE rowid = NEW.id;
    END
    """,
    "tickets_search_ticket_del": """
    CREATE TRIGGER tickets_search_ticket_del AFTER DELETE ON tickets_ticket BEGIN
        DELETE FROM tickets_search WHERE rowid = OLD.id;
    END
    """,
    "tickets_search_message_ins": """
    CREATE TRIGGER tickets_search_message_ins AFTER INSERT ON tickets_message
    WHEN NEW.kind IN ('reply', 'note') BEGIN
        UPDATE tickets_search SET
            public_body = CASE WHEN NEW.kind = 'reply'
                THEN public_body || char(10) || NEW.body ELSE public_body END,
            note_body = CASE WHEN NEW.kind = 'note'
                THEN note_body || char(10) || NEW.body ELSE note_body END
        WHERE rowid = NEW.ticket_id;
    END
    """,
    "tickets_search_message_upd": """
    CREATE TRIGGER tickets_search_message_upd AFTER UPDATE ON tickets_message
    WHEN OLD.body IS NOT NEW.body OR OLD.kind IS NOT NEW.kind
        OR OLD.ticket_id IS NOT NEW.ticket_id BEGIN
        UPDATE tickets_search SET"""
    + _REBUILD_BODIES.format(tid="tickets_search.rowid")
    + """    WHERE rowid IN (OLD.ticket_id, NEW.ticket_id);
    END
    """,
    "tickets_search_message_del": """
    CREATE TRIGGER tickets_search_message_del AFTER DELETE ON tickets_message
    WHEN OLD.kind IN ('reply', 'note') BEGIN
        UPDATE tickets_search SET"""
    + _REBUILD_BODIES.format(tid="OLD.ticket_id")
    + """    WHERE rowid = OLD.ticket_id;
    END
    """,
}

SQLITE_REINDEX = [
    "DELETE FROM tickets_search",
    """
    INSERT INTO tickets_search(rowid, reference, subject, public_body, note_body)
    SELECT t.id, t.reference, t.subject,
        coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
            WHERE ticket_id = t.id AND kind = 'reply'), ''),
        coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
            WHERE ticket_id = t.id AND kind = 'note'), '')
    FROM tickets_ticket t
    """,
]


def missing_triggers(using: str = "default") -> list[str]:
    """The search triggers absent from a SQLite database that has the index."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' OR name = 'tickets_search'"
        )
        present = {row[0] for row in cursor.fetchall()}
    if "tickets_search" not in present:
        return []  # migration 0003 has not run (yet)
    return [name for name in SQLITE_TRIGGERS if name not in present]


def repair(using: str = "default") -> list[str]:
    """Recreate missing search triggers and reindex; the names recreated."""
    missing = missing_triggers(using)
    if missing:
        connection = connections[using]
        with connection.cursor() as cursor:
            for name in missing:
                cursor.execute(SQLITE_TRIGGERS[name])
            for statement in SQLITE_REINDEX:
                cursor.execute(statement)
    return missing


def refresh_statistics(using: str = "default") -> list[str]:
    """ANALYZE the tables whose planner statistics a table rebuild threw away.

    Once a database has been analysed, a rebuilt table without statistics
    next to tables with them misleads SQLite's planner (it drove the ticket
    list from the users table and sorted every ticket). Returns the tables
    analysed.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return []  # never analysed: the planner's defaults apply evenly
        cursor.execute(
            "SELECT DISTINCT m.tbl_name FROM sqlite_master m WHERE m.type = 'index'"
            " AND m.tbl_name NOT IN (SELECT tbl FROM sqlite_stat1)"
        )
        tables = sorted(row[0] for row in cursor.fetchall())
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')
    return tables


def repair_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver."""
    repair(using)
    refresh_statistics(using)


# Every ticket's search row from scratch (after a bulk load with the triggers
# on or off): the rows the triggers would have made, in one pass.
PG_REINDEX = [
    "TRUNCATE tickets_search",
    "DO $$ BEGIN PERFORM tickets_search_rebuild(id) FROM tickets_ticket; END $$",
]


# The triggers a bulk insert fires once per row: each ticket's and message's.
_INSERT_TRIGGERS = {
    "tickets_search_ticket_ins": "tickets_ticket",
    "tickets_search_message_ins": "tickets_message",
}


@contextmanager
def insert_triggers_off(using: str = "default") -> Iterator[None]:
    """Inside a transaction: the search index's insert triggers off, for a
    bulk load that calls reindex() afterwards (indexing each message as it
    goes in and then again would be twice the work). Schema changes are
    transactional on both engines, so a rollback brings the triggers back
    too."""
    connection = connections[using]
    assert connection.in_atomic_block, "insert_triggers_off needs a transaction"
    if connection.vendor not in ("sqlite", "postgresql"):
        yield
        return
    with connection.cursor() as cursor:
        for name, table in _INSERT_TRIGGERS.items():
            if connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            else:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses a table with deferred foreign key checks
            # pending (the rows just loaded): run those checks now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for name, table in _INSERT_TRIGGERS.items():
            if connection.vendor == "sqlite":
                cursor.execute(SQLITE_TRIGGERS[name])
            else:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")


def reindex(using: str = "default") -> int:
    """Rebuild the search index of every ticket; the number of tickets indexed."""
    connection = connections[using]
    statements = {"sqlite": SQLITE_REINDEX, "postgresql": PG_REINDEX}.get(connection.vendor)
    if statements is None:
        return 0  # other databases search with LIKE: no index
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("SELECT count(*) FROM tickets_search")
        return int(cursor.fetchone()[0])

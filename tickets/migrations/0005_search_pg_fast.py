"""PostgreSQL search, made fast on 100,000 tickets (measured with bench/web.py).

- The thread vectors move out of line (TOAST) so the search table's rows are
  narrow: a GIN bitmap over thousands of matches then touches a few hundred
  heap pages instead of thousands.
- A small `head` vector (reference and subject), GIN-indexed too, ranks the
  results: tickets whose reference or subject match come first, then the
  rest, newest change first in each group; ranking never reads a thread.
- tickets_search_match() is the only way queries test a vector: it
  runs with sequential scans off, because the planner, not knowing what a
  detoasted @@ costs, would otherwise scan every thread for a common word.
- A new ticket gets its row directly instead of through a rebuild.

SQLite is unchanged (its FTS5 index ranks with bm25 cheaply).
"""

from typing import Any

from django.db import migrations

FORWARD = [
    "ALTER TABLE tickets_search ADD COLUMN head tsvector NOT NULL DEFAULT ''::tsvector",
    "ALTER TABLE tickets_search ALTER COLUMN head SET STORAGE MAIN",
    "ALTER TABLE tickets_search ALTER COLUMN public_doc SET STORAGE EXTERNAL",
    "ALTER TABLE tickets_search ALTER COLUMN all_doc SET STORAGE EXTERNAL",
    "ALTER TABLE tickets_search SET (toast_tuple_target = 128)",
    """
    UPDATE tickets_search s
    SET head = setweight(helpdesk_search_vector(t.reference || ' ' || t.subject), 'A')
    FROM tickets_ticket t WHERE t.id = s.ticket_id
    """,
    """
    CREATE OR REPLACE FUNCTION tickets_search_rebuild(tid bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        head_vec tsvector;
        public_vec tsvector;
        public_text text;
        note_text text;
    BEGIN
        SELECT setweight(helpdesk_search_vector(reference || ' ' || subject), 'A')
            INTO head_vec FROM tickets_ticket WHERE id = tid;
        IF head_vec IS NULL THEN
            DELETE FROM tickets_search WHERE ticket_id = tid;
            RETURN;
        END IF;
        SELECT string_agg(body, E'\\n' ORDER BY created_at, id) FILTER (WHERE kind = 'reply'),
               string_agg(body, E'\\n' ORDER BY created_at, id) FILTER (WHERE kind = 'note')
            INTO public_text, note_text
            FROM tickets_message WHERE ticket_id = tid;
        BEGIN
            public_vec := head_vec || helpdesk_search_vector(public_text);
            INSERT INTO tickets_search (ticket_id, head, public_doc, all_doc)
            VALUES (tid, head_vec, public_vec, public_vec || helpdesk_search_vector(note_text))
            ON CONFLICT (ticket_id) DO UPDATE SET head = EXCLUDED.head,
                public_doc = EXCLUDED.public_doc, all_doc = EXCLUDED.all_doc;
        EXCEPTION WHEN program_limit_exceeded THEN
            -- A thread too large for one tsvector (1 MB) stays findable by its head.
            INSERT INTO tickets_search (ticket_id, head, public_doc, all_doc)
            VALUES (tid, head_vec, head_vec, head_vec)
            ON CONFLICT (ticket_id) DO UPDATE
                SET head = head_vec, public_doc = head_vec, all_doc = head_vec;
        END;
    END $$
    """,
    # A new ticket has no messages yet: its row is its head (the hot path).
    """
    CREATE OR REPLACE FUNCTION tickets_search_ticket_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        head_vec tsvector;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM tickets_search WHERE ticket_id = OLD.id;
        ELSIF TG_OP = 'INSERT' THEN
            head_vec := setweight(helpdesk_search_vector(NEW.reference || ' ' || NEW.subject), 'A');
            INSERT INTO tickets_search (ticket_id, head, public_doc, all_doc)
            VALUES (NEW.id, head_vec, head_vec, head_vec)
            ON CONFLICT (ticket_id) DO NOTHING;
        ELSE
            PERFORM tickets_search_rebuild(NEW.id);
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE INDEX tickets_search_head_gin ON tickets_search USING gin (head)",
    """
    CREATE OR REPLACE FUNCTION tickets_search_head_match(query tsquery) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE ROWS 100
    SET enable_seqscan = off
    AS $$ BEGIN RETURN QUERY SELECT ticket_id FROM tickets_search WHERE head @@ query; END $$
    """,
    """
    CREATE OR REPLACE FUNCTION tickets_search_match(query tsquery, include_notes boolean)
    RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE ROWS 1000
    SET enable_seqscan = off
    AS $$
    BEGIN
        IF include_notes THEN
            RETURN QUERY SELECT ticket_id FROM tickets_search WHERE all_doc @@ query;
        ELSE
            RETURN QUERY SELECT ticket_id FROM tickets_search WHERE public_doc @@ query;
        END IF;
    END $$
    """,
]

BACKWARD = [
    "DROP FUNCTION IF EXISTS tickets_search_match(tsquery, boolean)",
    "DROP FUNCTION IF EXISTS tickets_search_head_match(tsquery)",
    "DROP INDEX IF EXISTS tickets_search_head_gin",
    "ALTER TABLE tickets_search RESET (toast_tuple_target)",
    "ALTER TABLE tickets_search ALTER COLUMN public_doc SET STORAGE EXTENDED",
    "ALTER TABLE tickets_search ALTER COLUMN all_doc SET STORAGE EXTENDED",
    "ALTER TABLE tickets_search DROP COLUMN head",
]


def _functions_of_0003() -> list[str]:
    """The 0003 versions of the functions this migration replaces."""
    from importlib import import_module

    earlier = import_module("tickets.migrations.0003_search_index")
    names = ("REPLACE FUNCTION tickets_search_rebuild(", "REPLACE FUNCTION tickets_search_ticket_changed(")
    return [sql for sql in earlier.PG_FORWARD if any(name in sql for name in names)]


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in FORWARD:
            cursor.execute(statement)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in [*BACKWARD, *_functions_of_0003()]:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_list_indexes")]

    operations = [migrations.RunPython(forward, backward)]

"""PostgreSQL: count the tickets a search matches, up to a limit, cheaply.

The ticket list ranks a search's matches only when there are few of them
(tickets.search.RANK_LIMIT); for a common word it lists the newest matches
instead, which an index on the tickets serves. This function is the probe
that chooses: a GIN bitmap scan that stops after `cap` rows. Like
tickets_search_match() it runs with sequential scans off, because the
planner misjudges prefix queries and would otherwise read (and detoast)
every thread.

SQLite needs nothing: counting FTS5 matches with a LIMIT is cheap as is.
"""

from typing import Any

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION tickets_search_match_count(
        query tsquery, include_notes boolean, cap integer
    ) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET enable_seqscan = off
    AS $$
    DECLARE
        found integer;
    BEGIN
        IF include_notes THEN
            SELECT count(*) INTO found FROM
                (SELECT 1 FROM tickets_search WHERE all_doc @@ query LIMIT cap) AS hits;
        ELSE
            SELECT count(*) INTO found FROM
                (SELECT 1 FROM tickets_search WHERE public_doc @@ query LIMIT cap) AS hits;
        END IF;
        RETURN found;
    END $$
    """,
]

BACKWARD = ["DROP FUNCTION IF EXISTS tickets_search_match_count(tsquery, boolean, integer)"]


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
        for statement in BACKWARD:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_sort_ranks")]

    operations = [migrations.RunPython(forward, backward)]

"""The full-text search index, in the database's own engine, kept in step by triggers.

One search document per ticket: reference and subject, public replies, and
internal notes kept apart so a customer's search can be limited to what
they may read (tickets.search). Triggers, not the services, keep it current
because every writer must be covered: the services, the admin, bulk loads,
data migrations and raw SQL alike, inside the writer's own transaction.

- SQLite: an FTS5 table `tickets_search` (rowid = ticket id) with columns
  reference, subject, public_body, note_body; tokenizer unicode61 with
  remove_diacritics 2, so "orcamento" finds "orçamento".
- PostgreSQL: a table `tickets_search` (ticket_id, public_doc, all_doc) of
  tsvectors with GIN indexes, built with the 'simple' (exact words and
  prefixes), 'portuguese' and 'english' (stems) configurations over
  unaccented text. helpdesk_unaccent() uses the unaccent extension when it
  can be created, else a translate() over the Latin accents.

The SQL is frozen here on purpose; later changes go in a new migration.
"""

from typing import Any

from django.db import migrations, transaction

SQLITE_FORWARD = [
    """
    CREATE VIRTUAL TABLE tickets_search USING fts5(
        reference, subject, public_body, note_body,
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3'
    )
    """,
    # The reference and subject weigh more than a word somewhere in the thread.
    "INSERT INTO tickets_search(tickets_search, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0, 1.0)')",
    """
    CREATE TRIGGER tickets_search_ticket_ins AFTER INSERT ON tickets_ticket BEGIN
        INSERT INTO tickets_search(rowid, reference, subject, public_body, note_body)
        VALUES (NEW.id, NEW.reference, NEW.subject, '', '');
    END
    """,
    """
    CREATE TRIGGER tickets_search_ticket_upd AFTER UPDATE OF reference, subject ON tickets_ticket
    WHEN OLD.reference IS NOT NEW.reference OR OLD.subject IS NOT NEW.subject BEGIN
        UPDATE tickets_search SET reference = NEW.reference, subject = NEW.subject
        WHERE rowid = NEW.id;
    END
    """,
    """
    CREATE TRIGGER tickets_search_ticket_del AFTER DELETE ON tickets_ticket BEGIN
        DELETE FROM tickets_search WHERE rowid = OLD.id;
    END
    """,
    # A new message (the hot path: every mail and reply) only appends.
    """
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
    # Edits, moves and deletions are rare: rebuild the tickets concerned.
    """
    CREATE TRIGGER tickets_search_message_upd AFTER UPDATE ON tickets_message
    WHEN OLD.body IS NOT NEW.body OR OLD.kind IS NOT NEW.kind
        OR OLD.ticket_id IS NOT NEW.ticket_id BEGIN
        UPDATE tickets_search SET
            public_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
                WHERE ticket_id = tickets_search.rowid AND kind = 'reply'), ''),
            note_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
                WHERE ticket_id = tickets_search.rowid AND kind = 'note'), '')
        WHERE rowid IN (OLD.ticket_id, NEW.ticket_id);
    END
    """,
    """
    CREATE TRIGGER tickets_search_message_del AFTER DELETE ON tickets_message
    WHEN OLD.kind IN ('reply', 'note') BEGIN
        UPDATE tickets_search SET
            public_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
                WHERE ticket_id = OLD.ticket_id AND kind = 'reply'), ''),
            note_body = coalesce((SELECT group_concat(body, char(10)) FROM tickets_message
                WHERE ticket_id = OLD.ticket_id AND kind = 'note'), '')
        WHERE rowid = OLD.ticket_id;
    END
    """,
    # Index what is already there.
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

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS tickets_search_ticket_ins",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_upd",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_del",
    "DROP TRIGGER IF EXISTS tickets_search_message_ins",
    "DROP TRIGGER IF EXISTS tickets_search_message_upd",
    "DROP TRIGGER IF EXISTS tickets_search_message_del",
    "DROP TABLE IF EXISTS tickets_search",
]

PG_UNACCENT_EXTENSION = """
    CREATE OR REPLACE FUNCTION helpdesk_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT {schema}.unaccent('{schema}.unaccent'::regdictionary, $1) $$
"""

# Without the extension: the accents of Portuguese, Spanish, French and German.
PG_UNACCENT_TRANSLATE = """
    CREATE OR REPLACE FUNCTION helpdesk_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT translate($1,
        'áàâãäåÁÀÂÃÄÅéèêëÉÈÊËíìîïÍÌÎÏóòôõöÓÒÔÕÖúùûüÚÙÛÜçÇñÑýÿÝ',
        'aaaaaaAAAAAAeeeeEEEEiiiiIIIIoooooOOOOOuuuuUUUUcCnNyyY') $$
"""

PG_FORWARD = [
    # Punctuation becomes a space, as in FTS5's unicode61, so that a reference
    # HD-2026-0001 is the words hd 2026 0001 (PostgreSQL's parser would make
    # '-2026' a signed number) and the query side splits words the same way.
    """
    CREATE OR REPLACE FUNCTION helpdesk_search_text(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT regexp_replace(helpdesk_unaccent(coalesce($1, '')), '[[:punct:]]+', ' ', 'g') $$
    """,
    """
    CREATE OR REPLACE FUNCTION helpdesk_search_vector(text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT to_tsvector('simple'::regconfig, u)
            || to_tsvector('portuguese'::regconfig, u)
            || to_tsvector('english'::regconfig, u)
        FROM (SELECT helpdesk_search_text($1) AS u) AS cleaned
    $$
    """,
    """
    CREATE TABLE tickets_search (
        ticket_id bigint PRIMARY KEY,
        public_doc tsvector NOT NULL,
        all_doc tsvector NOT NULL
    )
    """,
    "CREATE INDEX tickets_search_public_gin ON tickets_search USING gin (public_doc)",
    "CREATE INDEX tickets_search_all_gin ON tickets_search USING gin (all_doc)",
    # The whole document of one ticket, from its rows.
    """
    CREATE OR REPLACE FUNCTION tickets_search_rebuild(tid bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        head tsvector;
        public_text text;
        note_text text;
    BEGIN
        SELECT setweight(helpdesk_search_vector(reference || ' ' || subject), 'A')
            INTO head FROM tickets_ticket WHERE id = tid;
        IF head IS NULL THEN
            DELETE FROM tickets_search WHERE ticket_id = tid;
            RETURN;
        END IF;
        SELECT string_agg(body, E'\\n' ORDER BY created_at, id) FILTER (WHERE kind = 'reply'),
               string_agg(body, E'\\n' ORDER BY created_at, id) FILTER (WHERE kind = 'note')
            INTO public_text, note_text
            FROM tickets_message WHERE ticket_id = tid;
        BEGIN
            INSERT INTO tickets_search (ticket_id, public_doc, all_doc)
            VALUES (tid, head || helpdesk_search_vector(public_text),
                    head || helpdesk_search_vector(public_text)
                         || helpdesk_search_vector(note_text))
            ON CONFLICT (ticket_id) DO UPDATE
                SET public_doc = EXCLUDED.public_doc, all_doc = EXCLUDED.all_doc;
        EXCEPTION WHEN program_limit_exceeded THEN
            -- A thread too large for one tsvector (1 MB) stays findable by its head.
            INSERT INTO tickets_search (ticket_id, public_doc, all_doc) VALUES (tid, head, head)
            ON CONFLICT (ticket_id) DO UPDATE SET public_doc = head, all_doc = head;
        END;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION tickets_search_ticket_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM tickets_search WHERE ticket_id = OLD.id;
        ELSE
            PERFORM tickets_search_rebuild(NEW.id);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tickets_search_ticket_ins AFTER INSERT ON tickets_ticket
    FOR EACH ROW EXECUTE FUNCTION tickets_search_ticket_changed()
    """,
    """
    CREATE TRIGGER tickets_search_ticket_upd AFTER UPDATE OF reference, subject ON tickets_ticket
    FOR EACH ROW WHEN (OLD.reference IS DISTINCT FROM NEW.reference
        OR OLD.subject IS DISTINCT FROM NEW.subject)
    EXECUTE FUNCTION tickets_search_ticket_changed()
    """,
    """
    CREATE TRIGGER tickets_search_ticket_del AFTER DELETE ON tickets_ticket
    FOR EACH ROW EXECUTE FUNCTION tickets_search_ticket_changed()
    """,
    # Django's test flush truncates the tables it knows; this one must follow.
    """
    CREATE OR REPLACE FUNCTION tickets_search_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN TRUNCATE tickets_search; RETURN NULL; END $$
    """,
    """
    CREATE TRIGGER tickets_search_ticket_trunc AFTER TRUNCATE ON tickets_ticket
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_search_truncate()
    """,
    # A new message (the hot path) only appends to the ticket's vectors.
    """
    CREATE OR REPLACE FUNCTION tickets_search_message_added() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        vec tsvector := helpdesk_search_vector(NEW.body);
    BEGIN
        BEGIN
            UPDATE tickets_search SET
                all_doc = all_doc || vec,
                public_doc = CASE WHEN NEW.kind = 'reply' THEN public_doc || vec
                    ELSE public_doc END
            WHERE ticket_id = NEW.ticket_id;
        EXCEPTION WHEN program_limit_exceeded THEN
            NULL;  -- the thread outgrew a tsvector: it keeps what it had.
        END;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tickets_search_message_ins AFTER INSERT ON tickets_message
    FOR EACH ROW WHEN (NEW.kind IN ('reply', 'note'))
    EXECUTE FUNCTION tickets_search_message_added()
    """,
    # Edits, moves and deletions are rare: rebuild the tickets concerned.
    """
    CREATE OR REPLACE FUNCTION tickets_search_message_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_rebuild(OLD.ticket_id);
        IF TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id THEN
            PERFORM tickets_search_rebuild(NEW.ticket_id);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tickets_search_message_upd AFTER UPDATE ON tickets_message
    FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body OR OLD.kind IS DISTINCT FROM NEW.kind
        OR OLD.ticket_id IS DISTINCT FROM NEW.ticket_id)
    EXECUTE FUNCTION tickets_search_message_changed()
    """,
    """
    CREATE TRIGGER tickets_search_message_del AFTER DELETE ON tickets_message
    FOR EACH ROW WHEN (OLD.kind IN ('reply', 'note'))
    EXECUTE FUNCTION tickets_search_message_changed()
    """,
    "SELECT tickets_search_rebuild(id) FROM tickets_ticket",
]

PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS tickets_search_message_del ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_search_message_upd ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_search_message_ins ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_trunc ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_del ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_upd ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_search_ticket_ins ON tickets_ticket",
    "DROP FUNCTION IF EXISTS tickets_search_message_changed()",
    "DROP FUNCTION IF EXISTS tickets_search_message_added()",
    "DROP FUNCTION IF EXISTS tickets_search_truncate()",
    "DROP FUNCTION IF EXISTS tickets_search_ticket_changed()",
    "DROP FUNCTION IF EXISTS tickets_search_rebuild(bigint)",
    "DROP TABLE IF EXISTS tickets_search",
    "DROP FUNCTION IF EXISTS helpdesk_search_vector(text)",
    "DROP FUNCTION IF EXISTS helpdesk_search_text(text)",
    "DROP FUNCTION IF EXISTS helpdesk_unaccent(text)",
]


def _unaccent_schema(cursor: Any) -> str | None:
    """The schema of the unaccent extension, creating it if we may; None if we cannot."""
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration.
        with transaction.atomic(using=cursor.db.alias):
            cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    except Exception:  # noqa: BLE001 - not available or not allowed: fall back
        pass
    cursor.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'unaccent'"
    )
    row = cursor.fetchone()
    return str(row[0]) if row else None


def forward(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "sqlite":
            statements = SQLITE_FORWARD
        elif vendor == "postgresql":
            schema = _unaccent_schema(cursor)
            unaccent = (
                PG_UNACCENT_EXTENSION.format(schema=schema) if schema else PG_UNACCENT_TRANSLATE
            )
            statements = [unaccent, *PG_FORWARD]
        else:
            return  # other databases search with LIKE (tickets.search)
        for statement in statements:
            cursor.execute(statement)


def backward(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD}.get(vendor, [])
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_mail_ids")]

    operations = [migrations.RunPython(forward, backward)]

"""The list's default order, newest change first, from one index on
(updated_at, id) instead of updated_at alone: PostgreSQL then reads a page
straight from the index even where thousands of tickets share an
updated_at (a bulk action), instead of sorting every tie by id. SQLite's
index already ended in the rowid; the single-column index goes.

The old index is dropped by name rather than by AlterField, which on SQLite
would rebuild the whole tickets table (and its search triggers)."""

from django.db import migrations, models

OLD_INDEX = "tickets_ticket_updated_at_109364f6"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0007_search_match_count")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ticket",
                    name="updated_at",
                    field=models.DateTimeField(auto_now=True, verbose_name="updated"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {OLD_INDEX}",
                    reverse_sql=f'CREATE INDEX {OLD_INDEX} ON "tickets_ticket" ("updated_at")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["updated_at", "id"], name="ticket_updated_idx"),
        ),
    ]

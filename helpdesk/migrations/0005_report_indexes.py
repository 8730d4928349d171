# The reports (tickets.metrics) count and sort tickets by when they were
# resolved and closed. These indexes belong with Ticket's own; they are made
# here, as plain SQL the same on SQLite and PostgreSQL, only so that they do
# not race the tickets app's migrations being written at the same time. Move
# them into Ticket.Meta.indexes (a tickets migration with SeparateDatabaseAndState)
# once those settle.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('helpdesk', '0004_reports'),
        ('tickets', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            'CREATE INDEX IF NOT EXISTS ticket_resolved_at_idx ON tickets_ticket (resolved_at)',
            'DROP INDEX IF EXISTS ticket_resolved_at_idx',
        ),
        migrations.RunSQL(
            'CREATE INDEX IF NOT EXISTS ticket_closed_at_idx ON tickets_ticket (closed_at)',
            'DROP INDEX IF EXISTS ticket_closed_at_idx',
        ),
    ]

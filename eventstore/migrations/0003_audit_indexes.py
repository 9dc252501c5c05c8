"""Indexes for the audit view's filters on a large log (PostgreSQL):
correlation id (the trace of one workflow) and user, and a BRIN index on
created_at for time ranges (tiny, and nearly free to maintain on an
append-only table)."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS events_correlation_idx ON events ((metadata->>'correlation_id'), position)",
    "CREATE INDEX IF NOT EXISTS events_user_idx ON events ((metadata->>'user_id'), position)",
    "CREATE INDEX IF NOT EXISTS events_created_brin ON events USING brin (created_at)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS events_correlation_idx",
    "DROP INDEX IF EXISTS events_user_idx",
    "DROP INDEX IF EXISTS events_created_brin",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0002_gap_safety_and_immutability")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

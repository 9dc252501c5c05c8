"""Database-level guarantees the ORM cannot express.

- PostgreSQL: every event row records the id of the transaction that wrote it
  (xid8 as bigint), the first key of the gap-safe global order.
- Both backends: a trigger refuses UPDATE and DELETE on ``events``. Mistakes
  are corrected with compensating events, never by editing history.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint)",
    """
    CREATE OR REPLACE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'events are immutable: % on events is refused (append a compensating event instead)', TG_OP;
    END;
    $$
    """,
    """
    CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_immutable ON events",
    "DROP FUNCTION IF EXISTS events_refuse_change()",
    "ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT 0",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN
        SELECT RAISE(ABORT, 'events are immutable: UPDATE on events is refused (append a compensating event instead)');
    END
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN
        SELECT RAISE(ABORT, 'events are immutable: DELETE on events is refused (append a compensating event instead)');
    END
    """,
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS events_no_update", "DROP TRIGGER IF EXISTS events_no_delete"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

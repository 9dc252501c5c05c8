"""Close the three ways around the immutability of ``events`` that 0002 left.

- TRUNCATE does not fire row triggers: a statement-level trigger refuses it.
- An INSERT could set ``tx_id`` itself and place an event below every
  projection's checkpoint, where no projection would ever read it: a row
  trigger overwrites it with the writing transaction's id, whatever the writer
  sent (the column default stays, for readers of the schema). On SQLite
  ``tx_id`` is always 0 and the global read ignores it; an INSERT that sets
  another value is refused.
- The table owner can still disable or drop triggers: run the application as
  a role that does not own the tables (``manage.py db_roles``).
"""

from django.db import migrations

POSTGRES_FORWARD = [
    """
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()
    """,
    """
    CREATE OR REPLACE FUNCTION events_stamp_tx_id() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.tx_id := pg_catalog.pg_current_xact_id()::text::bigint;
        RETURN NEW;
    END;
    $$
    """,
    """
    CREATE TRIGGER events_stamp_tx_id BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_stamp_tx_id()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_stamp_tx_id ON events",
    "DROP FUNCTION IF EXISTS events_stamp_tx_id()",
    "DROP TRIGGER IF EXISTS events_no_truncate ON events",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER events_tx_id_is_zero BEFORE INSERT ON events WHEN NEW.tx_id <> 0 BEGIN
        SELECT RAISE(ABORT, 'events.tx_id is set by the event store (always 0 on SQLite): an INSERT may not choose it');
    END
    """,
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS events_tx_id_is_zero"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0003_audit_indexes")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

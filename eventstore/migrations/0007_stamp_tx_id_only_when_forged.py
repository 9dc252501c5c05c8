"""The trigger that stamps ``tx_id`` runs only for a row whose ``tx_id`` is
not already the writing transaction's: an append leaves the column to its
default (that same id), so the usual insert no longer calls PL/pgSQL once
per row; a forged value still fires it and is overwritten."""

from django.db import migrations

FORWARD = [
    "DROP TRIGGER IF EXISTS events_stamp_tx_id ON events",
    """
    CREATE TRIGGER events_stamp_tx_id BEFORE INSERT ON events FOR EACH ROW
    WHEN (NEW.tx_id IS DISTINCT FROM pg_catalog.pg_current_xact_id()::text::bigint)
    EXECUTE FUNCTION events_stamp_tx_id()
    """,
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS events_stamp_tx_id ON events",
    """
    CREATE TRIGGER events_stamp_tx_id BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_stamp_tx_id()
    """,
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0006_personal_data_keys")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

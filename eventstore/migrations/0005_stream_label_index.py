"""An index for finding a stream by the label in its first event (the
audit trail finds a SKU's inventory stream by the SKU; see
eventstore.labels). Partial: only first events that carry the field, one
row per such stream. PostgreSQL only, like the other audit indexes."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS events_stream_label_idx ON events ((event_data->>'sku')) "
    "WHERE version = 1 AND event_data ? 'sku'",
]
BACKWARD = ["DROP INDEX IF EXISTS events_stream_label_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_immutability_holds")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

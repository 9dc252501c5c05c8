"""Drop the partial index on the SKU in a stream's first event (0005).

The audit trail's search finds a SKU's streams through the ids the orders
app derives from it (``eventstore.labels.resolvers``), which the unique
``(aggregate_id, version)`` index serves. The partial index cost every
append to the events table: PostgreSQL compiles an index's expression and
predicate for each INSERT statement (docs/benchmarks.md, round eight)."""

from django.db import migrations

FORWARD = ["DROP INDEX IF EXISTS events_stream_label_idx"]
BACKWARD = [
    "CREATE INDEX IF NOT EXISTS events_stream_label_idx ON events ((event_data->>'sku')) "
    "WHERE version = 1 AND event_data ? 'sku'",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0009_one_guard_per_row")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

"""The per-order trace finds an order's stock events through their links to
the order (``event_links``, eventstore 0011; the stock event types link by
their ``order_id``, orders.catalog) instead of the partial expression index
of 0005, which PostgreSQL compiled for every append to the events table.

Stock events recorded before this migration get their links here; later
ones get them from the statement that appends them."""

from django.db import migrations

_UUID_TEXT = "'^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$'"
POSTGRES_FORWARD = [
    "INSERT INTO event_links (stream_id, position)"
    " SELECT (event_data->>'order_id')::uuid, position FROM events"
    f" WHERE aggregate_type = 'InventoryItem' AND event_data->>'order_id' ~ {_UUID_TEXT}"
    " ON CONFLICT DO NOTHING",
    "DROP INDEX IF EXISTS events_stock_order_idx",
]
POSTGRES_BACKWARD = [
    "CREATE INDEX IF NOT EXISTS events_stock_order_idx ON events ((event_data->>'order_id'))"
    " WHERE aggregate_type = 'InventoryItem'",
]
# Django keeps a UUID on SQLite as 32 hex digits in lower case.
_SQLITE_ID = "lower(replace(json_extract(event_data, '$.order_id'), '-', ''))"
SQLITE_FORWARD = [
    "INSERT OR IGNORE INTO event_links (stream_id, position)"
    f" SELECT {_SQLITE_ID}, position FROM events"
    " WHERE aggregate_type = 'InventoryItem' AND json_type(event_data, '$.order_id') = 'text'"
    f" AND length({_SQLITE_ID}) = 32 AND {_SQLITE_ID} NOT GLOB '*[^0-9a-f]*'",
    "DROP INDEX IF EXISTS events_stock_order_idx",
]
SQLITE_BACKWARD = [
    "CREATE INDEX IF NOT EXISTS events_stock_order_idx ON events (json_extract(event_data, '$.order_id'))"
    " WHERE aggregate_type = 'InventoryItem'",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_stock_events_by_order_index"), ("eventstore", "0011_event_links")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]

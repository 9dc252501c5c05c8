"""An index for the per-order trace: the stock events made for an order
(inventory events whose data names it), found without scanning the log."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        field = "(event_data->>'order_id')"
    else:
        field = "json_extract(event_data, '$.order_id')"
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS events_stock_order_idx ON events ({field})"
        " WHERE aggregate_type = 'InventoryItem'"
    )


def drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS events_stock_order_idx")


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_plural_names"), ("eventstore", "0006_personal_data_keys")]

    operations = [migrations.RunPython(create, drop)]

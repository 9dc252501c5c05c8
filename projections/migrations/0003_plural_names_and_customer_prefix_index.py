"""Plural names the admin can show ("order summaries", not "order summarys"),
and, on PostgreSQL, an index for the order list's customer filter: a
case-insensitive prefix, ``lower(customer_id) LIKE 'abc%'``, which a plain
index cannot serve under a non-C collation (text_pattern_ops can)."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS order_list_customer_lower_idx "
    "ON order_list (lower(customer_id) text_pattern_ops, placed_at, order_id)",
]
BACKWARD = ["DROP INDEX IF EXISTS order_list_customer_lower_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("projections", "0002_ordersummary_requires_confirmation_inventorylevel")]

    operations = [
        migrations.AlterModelOptions(
            name="customersummary",
            options={"verbose_name": "customer summary", "verbose_name_plural": "customer summaries"},
        ),
        migrations.AlterModelOptions(
            name="dailysales",
            options={"verbose_name": "daily sales", "verbose_name_plural": "daily sales"},
        ),
        migrations.AlterModelOptions(
            name="ordersummary",
            options={"verbose_name": "order summary", "verbose_name_plural": "order summaries"},
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]

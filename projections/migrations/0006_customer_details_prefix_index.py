"""On PostgreSQL, an index for the place-order form's customer suggestions:
customer ids starting with what was typed, in any case,
``lower(customer_id) LIKE 'abc%'`` (as migration 0003 does for the order
list)."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS customer_details_lower_idx "
    "ON customer_details (lower(customer_id) text_pattern_ops, customer_id)",
]
BACKWARD = ["DROP INDEX IF EXISTS customer_details_lower_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("projections", "0005_catalogue_and_line_status")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

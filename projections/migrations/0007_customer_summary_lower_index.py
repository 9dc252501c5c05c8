"""On PostgreSQL, an index for the place-order form's check that a customer
id is not a known one typed in another case: ``lower(customer_id) = ...``
on customer_summary (one row per customer), as 0006 does for
customer_details."""

from django.db import migrations

FORWARD = ["CREATE INDEX IF NOT EXISTS customer_summary_lower_idx ON customer_summary (lower(customer_id))"]
BACKWARD = ["DROP INDEX IF EXISTS customer_summary_lower_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("projections", "0006_customer_details_prefix_index")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

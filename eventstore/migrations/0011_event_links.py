"""Links from an event to other streams it belongs to (``event_links``):
how the per-order trace finds the stock events made for an order, through
a primary key instead of a partial expression index on the events table,
which PostgreSQL compiled for every append (the orders app's 0006 moves the
trace over and drops that index). Only appends of linking event types write
here, in the same statement as the events.

Immutable like the events: UPDATE, DELETE and (PostgreSQL) TRUNCATE are
refused by triggers; ``manage.py flush`` lifts them for its transaction."""

from django.db import migrations, models

POSTGRES_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION event_links_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'event links are immutable: % on event_links is refused', TG_OP;
    END;
    $$
    """,
    """
    CREATE TRIGGER event_links_immutable BEFORE UPDATE OR DELETE ON event_links
    FOR EACH ROW EXECUTE FUNCTION event_links_refuse_change()
    """,
    """
    CREATE TRIGGER event_links_no_truncate BEFORE TRUNCATE ON event_links
    FOR EACH STATEMENT EXECUTE FUNCTION event_links_refuse_change()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS event_links_no_truncate ON event_links",
    "DROP TRIGGER IF EXISTS event_links_immutable ON event_links",
    "DROP FUNCTION IF EXISTS event_links_refuse_change()",
]
SQLITE_FORWARD = [
    """
    CREATE TRIGGER event_links_no_update BEFORE UPDATE ON event_links BEGIN
        SELECT RAISE(ABORT, 'event links are immutable: UPDATE on event_links is refused');
    END
    """,
    """
    CREATE TRIGGER event_links_no_delete BEFORE DELETE ON event_links BEGIN
        SELECT RAISE(ABORT, 'event links are immutable: DELETE on event_links is refused');
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS event_links_no_update",
    "DROP TRIGGER IF EXISTS event_links_no_delete",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0010_no_stream_label_index")]

    operations = [
        migrations.CreateModel(
            name="EventLink",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "stream_id", "position", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("stream_id", models.UUIDField()),
                ("position", models.BigIntegerField()),
            ],
            options={"db_table": "event_links"},
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

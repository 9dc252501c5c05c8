"""One PL/pgSQL guard per inserted row instead of WHEN clauses and CHECK
constraints (PostgreSQL).

PostgreSQL reads a trigger's WHEN clause and a table's CHECK constraints
back from the catalogue (``stringToNode``), plans and compiles them for
every INSERT statement, not once per session. For the usual append of one
event that was two thirds of the events table's own cost: ~90,000
instructions for the two WHEN clauses and ~36,000 for the three CHECK
constraints, against ~30,000 for one PL/pgSQL call per row, whose
expressions stay compiled for the session (callgrind on the server, see
docs/benchmarks.md, round five).

What is refused stays the same, with the same messages and error codes
for ``position`` and ``created_at`` (0008); ``tx_id`` is still overwritten
with the writing transaction's id (0004); ``version >= 1`` and
``schema_version >= 0`` are refused as check violations (SQLSTATE 23514,
an IntegrityError to Django) by the guard instead of by CHECK constraints.
SQLite keeps its CHECK constraints and triggers: it has no such cost.
"""

from django.db import migrations, models

TOLERANCE = "5 minutes"
_NOT_OWNER = (
    "NOT pg_catalog.pg_has_role(current_user,"
    " (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID), 'USAGE')"
)


def _guard(sequence: str) -> str:
    seq = f"'{sequence}'::regclass"
    return f"""
    CREATE OR REPLACE FUNCTION events_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.tx_id := pg_catalog.pg_current_xact_id()::text::bigint;
        -- An ordinary row passes this one expression. currval comes last: a
        -- row that names no position never gets there without the sequence
        -- having been drawn.
        IF NEW.version >= 1 AND NEW.schema_version >= 0
           AND NEW.created_at BETWEEN now() - interval '{TOLERANCE}'
                                  AND clock_timestamp() + interval '{TOLERANCE}'
           AND NEW.position = pg_catalog.currval({seq}) THEN
            RETURN NEW;
        END IF;
        IF NEW.version < 1 THEN
            RAISE EXCEPTION 'events.version starts at 1: % refused', NEW.version
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.schema_version < 0 THEN
            RAISE EXCEPTION 'events.schema_version may not be negative: % refused', NEW.schema_version
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.position IS DISTINCT FROM pg_catalog.currval({seq}) THEN
            RAISE EXCEPTION 'events.position is assigned by the event store: an INSERT may not choose it'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.created_at NOT BETWEEN now() - interval '{TOLERANCE}' AND clock_timestamp() + interval '{TOLERANCE}'
           AND {_NOT_OWNER} THEN
            RAISE EXCEPTION 'events.created_at % is more than {TOLERANCE} away from the database''s clock (%): only the owner of events may record another time',
                NEW.created_at, clock_timestamp()
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;  -- back-dated by the owner, or a NULL for NOT NULL to refuse
    END;
    $$
    """


def _postgres_forward(sequence: str) -> list[str]:
    return [
        _guard(sequence),
        "DROP TRIGGER IF EXISTS events_stamp_tx_id ON events",
        "DROP TRIGGER IF EXISTS events_guard_insert ON events",
        "DROP FUNCTION IF EXISTS events_stamp_tx_id()",
        "CREATE TRIGGER events_guard_insert BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_guard_insert()",
        "ALTER TABLE events DROP CONSTRAINT IF EXISTS events_version_check,"
        " DROP CONSTRAINT IF EXISTS events_schema_version_check,"
        " DROP CONSTRAINT IF EXISTS events_version_from_1",
    ]


def _postgres_backward(sequence: str) -> list[str]:
    """0008's guard and 0007's stamp, with their WHEN clauses, and the CHECKs."""
    seq = f"'{sequence}'::regclass"
    out_of_range = (
        f"NEW.created_at < now() - interval '{TOLERANCE}'"
        f" OR NEW.created_at > clock_timestamp() + interval '{TOLERANCE}'"
    )
    return [
        "DROP TRIGGER IF EXISTS events_guard_insert ON events",
        f"""
        CREATE OR REPLACE FUNCTION events_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.position IS DISTINCT FROM pg_catalog.currval({seq}) THEN
                RAISE EXCEPTION 'events.position is assigned by the event store: an INSERT may not choose it'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF ({out_of_range}) AND {_NOT_OWNER} THEN
                RAISE EXCEPTION 'events.created_at % is more than {TOLERANCE} away from the database''s clock (%): only the owner of events may record another time',
                    NEW.created_at, clock_timestamp()
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$
        """,
        f"""
        CREATE TRIGGER events_guard_insert BEFORE INSERT ON events FOR EACH ROW
        WHEN ({out_of_range} OR NEW.position IS DISTINCT FROM pg_catalog.currval({seq}))
        EXECUTE FUNCTION events_guard_insert()
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
        CREATE TRIGGER events_stamp_tx_id BEFORE INSERT ON events FOR EACH ROW
        WHEN (NEW.tx_id IS DISTINCT FROM pg_catalog.pg_current_xact_id()::text::bigint)
        EXECUTE FUNCTION events_stamp_tx_id()
        """,
        "ALTER TABLE events ADD CONSTRAINT events_version_check CHECK (version >= 0),"
        " ADD CONSTRAINT events_schema_version_check CHECK (schema_version >= 0),"
        " ADD CONSTRAINT events_version_from_1 CHECK (version >= 1)",
    ]


def _run(statements_for):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence('events', 'position')")
            [(sequence,)] = cursor.fetchall()
        for statement in statements_for(sequence):
            schema_editor.execute(statement, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0008_guard_positions_times_and_snapshots")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_run(_postgres_forward), _run(_postgres_backward))],
            state_operations=[
                migrations.RemoveConstraint(model_name="event", name="events_version_from_1"),
                migrations.AlterField(model_name="event", name="version", field=models.IntegerField()),
                migrations.AlterField(
                    model_name="event", name="schema_version", field=models.IntegerField(default=1)
                ),
            ],
        )
    ]

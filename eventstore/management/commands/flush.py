"""``manage.py flush`` that empties the event store too.

Django's flush empties every table with TRUNCATE (PostgreSQL) or DELETE
(SQLite), which the event store's immutability triggers refuse. A flush is a
deliberate "destroy all data" (local resets, the teardown of transactional
tests), so this one lifts those triggers for its own transaction only and
restores them before it commits: if anything fails, nothing changes. Lifting
them takes the table owner (or a superuser); a restricted application role
cannot flush the event store (it has no TRUNCATE or DELETE on ``events``).
"""

from django.core.management.commands import flush
from django.db import connections, transaction

EVENTS = "events"

PROMPT = """You have requested a flush of the database.
This will IRREVERSIBLY DESTROY all data currently in the "%s" database,
the whole event history included, and return each table to an empty state.
Are you sure you want to do this?

    Type 'yes' to continue, or 'no' to cancel: """


class Command(flush.Command):
    help = flush.Command.help + " The event store's history included."

    def handle(self, **options):
        connection = connections[options["database"]]
        if options["interactive"] and input(PROMPT % connection.settings_dict["NAME"]) != "yes":
            self.stdout.write("Flush cancelled.")
            return
        with transaction.atomic(using=connection.alias):
            restore = _lift_guards(connection)
            super().handle(**{**options, "interactive": False})
            for statement in restore:
                _execute(connection, statement)


def _lift_guards(connection) -> list[str]:
    """Disable the triggers that refuse emptying ``events``; return the
    statements that put them back."""
    if connection.vendor == "postgresql":
        # Row triggers do not fire on TRUNCATE; only TRUNCATE triggers
        # (tgtype bit 5) stand in the way.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s)"
                " AND NOT tgisinternal AND tgtype & 32 <> 0",
                [EVENTS],
            )
            names = [name for (name,) in cursor.fetchall()]
        for name in names:
            _execute(connection, f'ALTER TABLE {EVENTS} DISABLE TRIGGER "{name}"')
        return [f'ALTER TABLE {EVENTS} ENABLE TRIGGER "{name}"' for name in names]
    if connection.vendor == "sqlite":
        # SQLite cannot disable a trigger: drop it and create it again from
        # the definition it was stored with.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [EVENTS]
            )
            triggers = cursor.fetchall()
        for name, _ in triggers:
            _execute(connection, f'DROP TRIGGER "{name}"')
        return [sql for _, sql in triggers]
    return []


def _execute(connection, statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)

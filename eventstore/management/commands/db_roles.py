"""``manage.py db_roles --app-role NAME [--password PW] [--print-sql]``.

Run as the role that owns the tables (the one that runs the migrations,
``DATABASE_DIRECT_URL``): creates or updates the restricted role the
application connects as (``DATABASE_URL``) and grants it what it needs and no
more; see ``eventstore.roles``. Safe to run again after every deployment.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from eventstore import roles

MASKED = "********"


class Command(BaseCommand):
    help = (
        "Create or update the PostgreSQL role the application runs as: it may read and append "
        "events but never change or delete them. Run it as the owner of the tables."
    )

    def add_arguments(self, parser):
        parser.add_argument("--app-role", required=True, help="the role named in DATABASE_URL")
        parser.add_argument("--password", help="set the role's password (unchanged if omitted)")
        parser.add_argument(
            "--idle-in-transaction-timeout",
            type=int,
            default=60,
            metavar="SECONDS",
            help="end the role's sessions left idle in a transaction this long (0: the server's setting)",
        )
        parser.add_argument("--print-sql", action="store_true", help="print the statements, run nothing")
        parser.add_argument(
            "--database",
            default="direct" if "direct" in connections.databases else "default",
            choices=tuple(connections.databases),
            help='the owner\'s connection ("direct" when DATABASE_DIRECT_URL is set)',
        )

    def handle(self, *args, app_role: str, password: str | None, print_sql: bool, database: str, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("db_roles is for PostgreSQL; SQLite has no roles")
        if print_sql and password is not None:
            self.stdout.write("-- the password is masked: set it yourself")
            password = MASKED
        try:
            with transaction.atomic(using=database), connection.cursor() as cursor:
                db = roles.Database.inspect(cursor)
                exists = roles.role_exists(cursor, app_role)
                statements = roles.statements(
                    db,
                    app_role,
                    exists=exists,
                    password=password,
                    idle_timeout=options["idle_in_transaction_timeout"],
                )
                for statement in statements:
                    text = statement.as_string(connection.connection)
                    if print_sql:
                        self.stdout.write(text + ";")
                    else:
                        cursor.execute(text)
                if print_sql:
                    return
                if found := roles.problems(cursor, app_role):
                    raise roles.RoleSetupError(
                        "nothing was changed, the role could still rewrite history:\n  " + "\n  ".join(found)
                    )
        except roles.RoleSetupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{app_role} {'updated' if exists else 'created'}: it may read and append events in {db.name}"
            f" (schema {db.schema}), not change them; tables {db.owner} creates later get read/write for it."
        )

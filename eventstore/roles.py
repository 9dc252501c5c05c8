"""The restricted role the application runs as (PostgreSQL).

A trigger only binds roles that cannot remove it: the owner of ``events`` can
``ALTER TABLE events DISABLE TRIGGER``, rewrite history and enable it again.
So the tables belong to the role that runs the migrations, and the
application connects as a role that may only read and append events: SELECT
and INSERT on ``events``, no UPDATE, DELETE or TRUNCATE, not the owner and
unable to become it. Everything else the application writes (read models,
checkpoints, idempotency keys, sessions, ...) gets ordinary DML, also on the
tables later migrations create.

Plain SQL over a DB-API cursor: ``statements`` says what to run,
``problems`` checks the result.
"""

from dataclasses import dataclass

from psycopg import sql

EVENTS = "events"
SNAPSHOTS = "snapshots"
_DML = sql.SQL("SELECT, INSERT, UPDATE, DELETE")


class RoleSetupError(Exception):
    """The roles cannot be set up as asked (nothing was changed)."""


@dataclass(frozen=True)
class Database:
    """Where the application's tables live and who owns them."""

    name: str
    schema: str
    owner: str  # owner of ``events``: the role that runs the migrations

    @classmethod
    def inspect(cls, cursor) -> "Database":
        cursor.execute(
            "SELECT current_database(), n.nspname, pg_get_userbyid(c.relowner)"
            " FROM (SELECT to_regclass(%s) AS oid) AS t"
            " LEFT JOIN pg_class c ON c.oid = t.oid LEFT JOIN pg_namespace n ON n.oid = c.relnamespace",
            [EVENTS],
        )
        name, schema, owner = cursor.fetchone()
        if owner is None:
            raise RoleSetupError(f"there is no {EVENTS} table in {name}: run `manage.py migrate` first")
        return cls(name, schema, owner)


def role_exists(cursor, role: str) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [role])
    return cursor.fetchone()[0]


def statements(
    db: Database, role: str, *, exists: bool, password: str | None, idle_timeout: int = 0
) -> list[sql.Composed]:
    """What makes ``role`` the application's restricted role, in order.

    ``idle_timeout`` (seconds, 0: the server's) becomes the role's
    ``idle_in_transaction_session_timeout``: it holds behind a pooler that
    refuses it as a connection option."""
    if role == db.owner:
        raise RoleSetupError(
            f"{role} owns the tables; the application role must be another one (the owner keeps migrating)"
        )
    r, schema = sql.Identifier(role), sql.Identifier(db.schema)
    events, snapshots = (sql.Identifier(db.schema, t) for t in (EVENTS, SNAPSHOTS))
    login = sql.SQL("ALTER ROLE {} LOGIN" if exists else "CREATE ROLE {} LOGIN").format(r)
    if password is not None:
        login = sql.SQL("{} PASSWORD {}").format(login, sql.Literal(password))
    idle = (
        sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = {}").format(
            r, sql.Literal(f"{idle_timeout}s")
        )
        if idle_timeout > 0
        else sql.SQL("ALTER ROLE {} RESET idle_in_transaction_session_timeout").format(r)
    )
    default_privileges = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT").format(
        sql.Identifier(db.owner), schema
    )
    return [
        login,
        idle,
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db.name), r),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, r),
        sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(_DML, schema, r),
        # Includes the identity sequence of events.position.
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, r),
        # History: read and append, nothing else (REVOKE ALL takes away
        # UPDATE, DELETE, TRUNCATE, TRIGGER and REFERENCES, whoever granted
        # them before).
        sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(events, r),
        sql.SQL("GRANT SELECT, INSERT ON TABLE {} TO {}").format(events, r),
        # Snapshots are derived data: written once, deletable, never changed.
        sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(snapshots, r),
        sql.SQL("GRANT SELECT, INSERT, DELETE ON TABLE {} TO {}").format(snapshots, r),
        # Tables and sequences that later migrations create.
        sql.SQL("{} {} ON TABLES TO {}").format(default_privileges, _DML, r),
        sql.SQL("{} USAGE, SELECT ON SEQUENCES TO {}").format(default_privileges, r),
    ]


_CHECK = """
SELECT r.rolsuper, r.rolcreaterole, pg_has_role(r.oid, t.relowner, 'MEMBER'),
       has_table_privilege(r.oid, t.oid, 'INSERT'),
       ARRAY(SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER']) AS p
             WHERE has_table_privilege(r.oid, t.oid, p)),
       (SELECT COUNT(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = t.relnamespace)
FROM pg_roles r, pg_class t WHERE r.rolname = %s AND t.oid = to_regclass(%s)
"""


def problems(cursor, role: str) -> list[str]:
    """Whatever would still let ``role`` change or remove recorded events."""
    cursor.execute(_CHECK, [role, EVENTS])
    superuser, createrole, owner, can_insert, can_change, owned = cursor.fetchone()
    found = []
    if superuser:
        found.append(f"{role} is a superuser")
    if createrole:
        found.append(f"{role} has CREATEROLE (it could make itself a member of the owner's role)")
    if owner:
        found.append(f"{role} owns {EVENTS} or is a member of its owner's role (it could disable triggers)")
    if can_change:
        found.append(
            f"{role} still has {', '.join(can_change)} on {EVENTS} (granted to PUBLIC or a role it is in?)"
        )
    if not can_insert:
        found.append(f"{role} cannot INSERT into {EVENTS}")
    if owned:
        found.append(
            f"{role} owns {owned} relation(s) in the application's schema (it ran migrations before?):"
            f" as a superuser, REASSIGN OWNED BY {role} TO <the migration role>, then run this again"
        )
    return found

"""Hardening of the event store (issue 10): history that cannot be rewritten
even by the application's own database role, no gap-safe read on a standby,
honest point-in-time loads, and no transaction left idle forever."""

import io
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import DatabaseError, connection, connections, transaction

from eventstore import NEW_STREAM, NewEvent, clock
from tests.support import other_connection

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
sqlite_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite only"
)


def counted(quantity: int) -> NewEvent:
    return NewEvent("ItemCounted", {"sku": "WIDGET-A", "quantity": quantity})


def at(hh_mm: str) -> datetime:
    hour, minute = map(int, hh_mm.split(":"))
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


# -- honest time travel ------------------------------------------------------


def test_point_in_time_load_is_a_prefix_even_when_the_clock_went_backwards(store):
    """v3 was stamped 10:02 by a server whose clock was behind; at 10:03 the
    stream had only v1 (v2 came at 10:05), so v1+v3 is a state that never was."""
    shelf = uuid.uuid4()
    for version, stamped in enumerate(("10:00", "10:05", "10:02")):
        with clock.frozen(at(stamped)):
            store.append("Shelf", shelf, [counted(version + 1)], expected_version=version)

    assert [e.version for e in store.load(shelf, until=at("10:03"))] == [1]
    assert [e.version for e in store.load(shelf, until=at("10:01"))] == [1]
    assert [e.version for e in store.load(shelf, until=at("10:05"))] == [1, 2, 3]
    assert [e.version for e in store.load(shelf, until=at("09:59"))] == []
    # The other filters keep their meaning inside the prefix.
    assert [e.version for e in store.load(shelf, after_version=1, until=at("10:03"))] == []
    assert [e.version for e in store.load(shelf, up_to_version=2, until=at("10:05"))] == [1, 2]


def test_point_in_time_load_of_a_batch_stamped_at_one_instant(store):
    shelf = uuid.uuid4()
    with clock.frozen(at("11:00")):
        store.append("Shelf", shelf, [counted(1), counted(2)], NEW_STREAM)
    with clock.frozen(at("11:10")):
        store.append("Shelf", shelf, [counted(3)], expected_version=2)
    assert [e.version for e in store.load(shelf, until=at("11:00"))] == [1, 2]
    assert [e.version for e in store.load(shelf, until=at("11:09"))] == [1, 2]


# -- immutability that holds ---------------------------------------------------


def execute(statement: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def refused(statement: str) -> str:
    """The first line of the database's refusal of ``statement`` (rolled back)."""
    with pytest.raises(DatabaseError) as err, transaction.atomic():
        execute(statement)
    return str(err.value).splitlines()[0]


FORGE = (
    "INSERT INTO events (tx_id, event_id, aggregate_type, aggregate_id, event_type, schema_version,"
    " event_data, metadata, version, created_at)"
    " VALUES (%s, %s, 'Shelf', %s, 'ShelfOpened', 1, '{}', '{}', 1, CURRENT_TIMESTAMP) RETURNING tx_id"
)


@pytest.mark.postgres
def test_truncating_events_is_refused(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted(1)], NEW_STREAM)
    for statement in (
        "TRUNCATE events",
        "TRUNCATE snapshots, events",
        "TRUNCATE events RESTART IDENTITY CASCADE",
    ):
        assert "events are immutable: TRUNCATE" in refused(statement)
    assert [e.version for e in store.load(shelf)] == [1]


@pytest.mark.postgres
def test_a_forged_tx_id_is_replaced_by_the_writing_transactions_id():
    """An event placed below the projections' checkpoints would never be
    projected; whatever an INSERT says, the row gets the real transaction id."""
    [(own,)] = execute("SELECT pg_current_xact_id()::text::bigint")
    for forged in (0, 1, own - 1, 2**62):
        [(stored,)] = execute(FORGE, [forged, uuid.uuid4(), uuid.uuid4()])
        assert stored == own
    assert execute("SELECT DISTINCT tx_id FROM events WHERE tx_id <> 0") == [(own,)]


@pytest.mark.postgres
def test_every_append_shape_returns_the_tx_id_the_row_was_stored_with(store):
    [(own,)] = execute("SELECT pg_current_xact_id()::text::bigint")
    shelf = uuid.uuid4()
    results = [
        store.append("Shelf", shelf, [counted(1)], NEW_STREAM),  # a new stream
        store.append("Shelf", shelf, [counted(2)], 1),  # one event, version checked
        store.append("Shelf", shelf, [counted(3), counted(4)], 2),  # a batch
    ]
    assert [r.tx_id for r in results] == [own, own, own]
    assert {e.tx_id for e in store.load(shelf)} == {own}


@sqlite_only
def test_sqlite_refuses_a_forged_tx_id_and_stores_zero(store):
    shelf = uuid.uuid4()
    assert store.append("Shelf", shelf, [counted(1)], NEW_STREAM).tx_id == 0
    forge = FORGE.replace("RETURNING tx_id", "")
    with pytest.raises(DatabaseError, match="tx_id is set by the event store"), transaction.atomic():
        execute(forge, [7, uuid.uuid4().hex, uuid.uuid4().hex])
    execute(forge, [0, uuid.uuid4().hex, uuid.uuid4().hex])
    assert execute("SELECT DISTINCT tx_id FROM events") == [(0,)]


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_event_store_and_leaves_it_guarded(store):
    """Tests and local resets empty the database with `flush`; the guards are
    lifted only inside its transaction."""
    assert get_commands()["flush"] == "eventstore"
    store.append("Shelf", uuid.uuid4(), [counted(1)], NEW_STREAM)
    call_command("flush", interactive=False, verbosity=0)
    assert execute("SELECT COUNT(*) FROM events") == [(0,)]
    store.append("Shelf", uuid.uuid4(), [counted(1)], NEW_STREAM)
    emptying = "TRUNCATE events" if connection.vendor == "postgresql" else "DELETE FROM events"
    assert "immutable" in refused(emptying)


def test_migrate_runs_on_the_direct_alias_when_there_is_one(monkeypatch):
    assert get_commands()["migrate"] == "eventstore"

    def database(*argv):
        parser = load_command_class("eventstore", "migrate").create_parser("manage.py", "migrate")
        return parser.parse_args(argv).database

    assert database() == "default"
    monkeypatch.setitem(connections.databases, "direct", dict(connections.databases["default"]))
    assert database() == "direct"
    assert database("--database", "default") == "default"


@pytest.fixture
def role_name():
    """A role name of this test's own (roles are server-wide); the role is
    dropped afterwards if the test committed it."""
    name = f"es_app_{uuid.uuid4().hex[:12]}"
    yield name
    with other_connection(autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
            admin.execute(f'DROP OWNED BY "{name}"')
            admin.execute(f'DROP ROLE "{name}"')


@pytest.mark.postgres
def test_db_roles_prints_the_grants_without_running_them(role_name):
    out = io.StringIO()
    call_command("db_roles", app_role=role_name, password="s3cret", print_sql=True, stdout=out)
    printed = out.getvalue()
    assert f'CREATE ROLE "{role_name}" LOGIN PASSWORD' in printed and "s3cret" not in printed
    assert f'REVOKE ALL ON TABLE "public"."events" FROM "{role_name}";' in printed
    assert f'GRANT SELECT, INSERT ON TABLE "public"."events" TO "{role_name}";' in printed
    assert f'GRANT SELECT, INSERT, DELETE ON TABLE "public"."snapshots" TO "{role_name}";' in printed
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE" in printed
    assert execute("SELECT COUNT(*) FROM pg_roles WHERE rolname = %s", [role_name]) == [(0,)]


@pytest.mark.postgres
def test_db_roles_refuses_a_role_that_could_become_the_owner(role_name):
    execute(f'CREATE ROLE "{role_name}" LOGIN CREATEROLE')
    with pytest.raises(CommandError, match="CREATEROLE"):
        call_command("db_roles", app_role=role_name, stdout=io.StringIO())
    assert execute("SELECT has_table_privilege(%s, 'events', 'INSERT')", [role_name]) == [(False,)]
    [(owner,)] = execute("SELECT current_user")
    with pytest.raises(CommandError, match="owns the tables"):
        call_command("db_roles", app_role=owner, stdout=io.StringIO())


# A split deployment end to end, in processes of its own: DATABASE_URL names
# the restricted role, DATABASE_DIRECT_URL the owner, on a new database.
AS_APP_ROLE = """
import json, time, uuid
from django.db import connection, connections, transaction
from eventstore import START, EventStore, EventTypeRegistry, NewEvent, Snapshot

reg = EventTypeRegistry()
reg.register("Noted", {"type": "object"})
store = EventStore(registry=reg)
note = uuid.uuid4()
store.append("Note", note, [NewEvent("Noted", {"n": 1})], 0)
store.append("Note", note, [NewEvent("Noted", {"n": 2}), NewEvent("Noted", {"n": 3})], 1)
store.save_snapshot(Snapshot(note, "Note", 3, 1, {"n": 6}))

def run(statement):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else "done"
    except Exception as exc:
        return str(exc).splitlines()[0]

with connections["direct"].cursor() as cursor:  # what a later migration does
    cursor.execute("CREATE TABLE later_read_model (id int PRIMARY KEY, n int)")
deadline = time.monotonic() + 20
while not (log := store.read_all(START)) and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({
    "user": run("SELECT current_user")[0][0],
    "stream": [e.data["n"] for e in store.load(note)],
    "log": [e.data["n"] for e in log],
    "update": run("UPDATE events SET version = version"),
    "delete": run("DELETE FROM events"),
    "truncate": run("TRUNCATE events"),
    "disable_trigger": run("ALTER TABLE events DISABLE TRIGGER events_immutable"),
    "drop_trigger": run("DROP TRIGGER events_guard_insert ON events"),
    "become_owner": run("SET ROLE " + connections["direct"].settings_dict["USER"]),
    "forged_tx_id_replaced": run(
        "INSERT INTO events (tx_id, event_id, aggregate_type, aggregate_id, event_type, schema_version,"
        " event_data, metadata, version, created_at) VALUES (1, gen_random_uuid(), 'Note', gen_random_uuid(),"
        " 'Noted', 1, '{}', '{}', 1, now()) RETURNING tx_id = pg_current_xact_id()::text::bigint"
    ),
    "chosen_position": run(
        "INSERT INTO events (position, event_id, aggregate_type, aggregate_id, event_type, schema_version,"
        " event_data, metadata, version, created_at) OVERRIDING SYSTEM VALUE VALUES (1, gen_random_uuid(),"
        " 'Note', gen_random_uuid(), 'Noted', 1, '{}', '{}', 1, now())"
    ),
    "back_dated": "only the owner of events may record another time" in run(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, event_type, schema_version,"
        " event_data, metadata, version, created_at) VALUES (gen_random_uuid(), 'Note', gen_random_uuid(),"
        " 'Noted', 1, '{}', '{}', 1, now() - interval '30 days')"
    ),
    "snapshot_beyond_stream": "the stream has no such event" in run(
        "INSERT INTO snapshots (aggregate_id, aggregate_type, version, schema_version, state, created_at)"
        f" VALUES ('{note}', 'Note', 4, 1, '{{}}', now())"
    ),
    "snapshot_delete": run("DELETE FROM snapshots"),
    "snapshot_update": run("UPDATE snapshots SET version = 9"),
    "read_model": run("INSERT INTO later_read_model VALUES (1, 1); UPDATE later_read_model SET n = 2;"
                      " DELETE FROM later_read_model"),
    "checkpoints": run("UPDATE projection_checkpoints SET events_seen = events_seen"),
    "idle_timeout": run("SHOW idle_in_transaction_session_timeout")[0][0],
}))
"""


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def server_url(database: str, user: str | None = None) -> str:
    """A URL for ``database`` on the test server, as ``user`` (default: the tests' own)."""
    params = connection.settings_dict
    user = user or params["USER"] or "postgres"
    return f"postgres://{user}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{database}"


@pytest.mark.postgres
def test_the_application_role_appends_but_can_never_rewrite_history(role_name):
    owner = connection.settings_dict["USER"] or "postgres"
    database = f"es_split_{uuid.uuid4().hex[:10]}"
    with other_connection("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        env = {
            **os.environ,
            "DATABASE_URL": server_url(database, role_name),
            "DATABASE_DIRECT_URL": server_url(database, owner),
        }
        # The role does not exist yet: migrate must run as the owner.
        for command in (
            ["migrate", "--noinput"],
            ["db_roles", "--app-role", role_name, "--idle-in-transaction-timeout", "45"],
        ):
            done = manage(*command, env=env)
            assert done.returncode == 0, done.stderr
        # As behind a PgBouncer that refuses the timeout as a connection
        # option: the role's own setting still applies.
        run = manage("shell", "-c", AS_APP_ROLE, env={**env, "DB_IDLE_IN_TRANSACTION_TIMEOUT": "0"})
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        with other_connection("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    assert seen.pop("user") == role_name
    assert seen.pop("stream") == seen.pop("log") == [1, 2, 3]
    assert seen == {
        "update": "permission denied for table events",
        "delete": "permission denied for table events",
        "truncate": "permission denied for table events",
        "disable_trigger": "must be owner of table events",
        "drop_trigger": "must be owner of relation events",
        "become_owner": f'permission denied to set role "{owner}"',
        "forged_tx_id_replaced": [[True]],
        "chosen_position": "events.position is assigned by the event store: an INSERT may not choose it",
        "back_dated": True,
        "snapshot_beyond_stream": True,
        "snapshot_delete": "done",
        "snapshot_update": "permission denied for table snapshots",
        "read_model": "done",
        "checkpoints": "done",
        "idle_timeout": "45s",
    }


# -- no transaction left idle forever ------------------------------------------

IDLE_TIMEOUTS = """
import json
from django.db import connections

def shown(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        return cursor.fetchone()[0]

print(json.dumps({alias: shown(alias) for alias in ("default", "direct")}))
"""


@pytest.mark.postgres
def test_a_fresh_app_connection_has_the_idle_transaction_timeout():
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute(
                "SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'"
            )
            assert cursor.fetchone()[0] == str(
                int(os.environ.get("DB_IDLE_IN_TRANSACTION_TIMEOUT", 60)) * 1000
            )
    finally:
        fresh.close()


@pytest.mark.postgres
@pytest.mark.parametrize(("seconds", "shown"), [("7", "7s"), ("0", None)])
def test_the_idle_transaction_timeout_is_set_on_the_app_connection_only(seconds, shown):
    """DB_IDLE_IN_TRANSACTION_TIMEOUT reaches every connection of the app
    (0 leaves the server's setting); the owner's "direct" connection, used for
    long migrations and rebuilds, keeps the server's."""
    url = server_url(connection.settings_dict["NAME"])
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATABASE_DIRECT_URL": url,
        "DB_IDLE_IN_TRANSACTION_TIMEOUT": seconds,
    }
    run = manage("shell", "-c", IDLE_TIMEOUTS, env=env)
    assert run.returncode == 0, run.stderr
    with other_connection() as plain:
        [(server_setting,)] = plain.execute("SHOW idle_in_transaction_session_timeout").fetchall()
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {
        "default": shown or server_setting,
        "direct": server_setting,
    }

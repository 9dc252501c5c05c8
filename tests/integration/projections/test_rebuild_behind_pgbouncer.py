"""`projections rebuild` where DATABASE_URL goes through PgBouncer in
transaction pooling and there is no DATABASE_DIRECT_URL: each statement may
run on another server connection, so nothing the rebuild holds may live in a
server session; and a rebuild by a role that cannot create and swap the
tables says what to set instead of failing half-way."""

import io
import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from projections import locks, rebuild
from projections.base import registry
from projections.models import OrderSummary
from tests.integration.projections.support import assert_a_rebuild_changes_nothing, catch_up
from tests.pgbouncer import pgbouncer  # noqa: F401 (a fixture)
from tests.support import other_connection, place_order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]


def direct():
    """A session of its own on the server itself (not through the pooler)."""
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"], host=DIRECT["HOST"], port=DIRECT["PORT"], user=params["USER"] or None,
        password=params["PASSWORD"] or None, autocommit=True,
    )  # fmt: skip


DIRECT: dict = {}


@pytest.fixture
def through_pgbouncer(pgbouncer, monkeypatch):  # noqa: F811
    """The app's connection goes through the PgBouncer, as DATABASE_URL does
    behind one, and there is no DATABASE_DIRECT_URL (no prepared statements,
    no connection options, as the docs ask behind an older PgBouncer)."""
    params = connection.settings_dict
    DIRECT.update(HOST=params["HOST"] or "127.0.0.1", PORT=params["PORT"] or 5432)
    connection.close()
    monkeypatch.setitem(params, "HOST", "127.0.0.1")
    monkeypatch.setitem(params, "PORT", pgbouncer.port)
    monkeypatch.setitem(params, "OPTIONS", {})
    yield pgbouncer
    connection.close()  # the next test connects to the server again


def holders(key: int) -> set[int]:
    """The server processes holding the advisory lock ``key``."""
    with direct() as session:
        rows = session.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = %s AND objsubid = 1",
            [key % 2**32],
        ).fetchall()
    return {pid for (pid,) in rows}


def test_a_rebuild_through_pgbouncer_holds_its_guard_for_its_run_and_leaves_nothing_behind(
    through_pgbouncer,
):
    place_order("cust_1")
    catch_up()
    assert through_pgbouncer.transactions(connection.settings_dict["NAME"]) > 0
    projection = registry.get("order_list")
    key = locks.lock_key("rebuild:order_list")
    others: list = []

    def progress(done: int, total: int) -> None:
        with direct() as session:
            swapped = session.execute("SELECT to_regclass('order_list__rebuild') IS NULL").fetchone()[0]
        if others or not swapped:
            return
        # The new tables are in place and the rebuild is about to let go of
        # its guard. Other clients of the pool take the idle server
        # connections (the one that took the guard among them, if it is
        # idle), so the rebuild's next statements run on others.
        guard = holders(key)
        assert guard, "the rebuild runs unguarded"
        for _ in range(8):
            other = psycopg.connect(through_pgbouncer.url(connection.settings_dict["NAME"]))
            others.append(other)
            if other.execute("SELECT pg_backend_pid()").fetchone()[0] in guard:
                break
        with pytest.raises(rebuild.RebuildError, match="being rebuilt by another process"):
            rebuild.rebuild(projection)

    try:
        result = rebuild.rebuild(projection, progress=progress)
    finally:
        for other in others:
            other.commit()  # its server connection goes back to the pool
            other.close()
    assert others and result.events > 0
    # No server connection of the pool still holds the guard: the next
    # rebuild, from anywhere, may run.
    assert holders(key) == set()
    rebuild.rebuild(projection)
    assert OrderSummary.objects.count() == 1
    assert_a_rebuild_changes_nothing()


@pytest.fixture
def app_role():
    """The application's restricted role (``db_roles``), dropped afterwards."""
    name = f"rb_app_{uuid.uuid4().hex[:12]}"
    call_command("db_roles", app_role=name, idle_in_transaction_timeout=0, stdout=io.StringIO())
    yield name
    with other_connection(autocommit=True) as admin:
        admin.execute(f'DROP OWNED BY "{name}"')
        admin.execute(f'DROP ROLE "{name}"')


def test_a_rebuild_as_the_application_role_asks_for_the_owners_connection(app_role):
    place_order("cust_1")
    catch_up()
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{app_role}"')
    try:
        with pytest.raises(rebuild.RebuildError, match="DATABASE_DIRECT_URL"):
            rebuild.rebuild(registry.get("order_list"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('order_list__rebuild')")
            assert cursor.fetchone() == (None,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert OrderSummary.objects.count() == 1

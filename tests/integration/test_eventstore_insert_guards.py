"""What an INSERT may not choose about an event (its position, a time far
from the database's clock) and snapshots that name no recorded event: refused
by the database, whatever the writer (migration 0008)."""

import io
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from eventstore import NEW_STREAM, NewEvent, Snapshot, clock
from eventstore.sql import dialect_for
from tests.support import other_connection

pytestmark = pytest.mark.django_db


def counted(quantity: int = 1) -> NewEvent:
    return NewEvent("ItemCounted", {"sku": "WIDGET-A", "quantity": quantity})


def execute(statement: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def refused(statement: str, params=None, error=DatabaseError) -> str:
    """The first line of the database's refusal of ``statement`` (rolled back)."""
    with pytest.raises(error) as err, transaction.atomic():
        execute(statement, params)
    return str(err.value).splitlines()[0]


def event_total() -> int:
    return execute("SELECT COUNT(*) FROM events")[0][0]


def insert(columns: str = "", values: str = "", *, overriding: bool = False, at: str = "now()") -> str:
    """An INSERT of one event of a new stream, with extra ``columns``/``values``."""
    return (
        f"INSERT INTO events ({columns}event_id, aggregate_type, aggregate_id, event_type, schema_version,"
        " event_data, metadata, version, created_at)"
        f"{' OVERRIDING SYSTEM VALUE' if overriding else ''}"
        f" VALUES ({values}gen_random_uuid(), 'Shelf', gen_random_uuid(), 'ShelfOpened', 1, '{{}}',"
        f" '{{}}', 1, {at}) RETURNING position"
    )


# -- position comes from the sequence -------------------------------------------------


@pytest.mark.postgres
def test_an_insert_cannot_choose_the_position_of_an_event(store):
    """An event placed at a position of the writer's choosing would sit below
    readers of positions, or take the number a later append needs."""
    shelf = uuid.uuid4()
    first = store.append("Shelf", shelf, [counted(1), counted(2)], NEW_STREAM)
    before = event_total()
    # A plain INSERT naming it (PostgreSQL's own refusal: GENERATED ALWAYS).
    assert "position" in refused(insert("position, ", f"{first.position + 5000}, "))
    for chosen in (1, first.position - 1, first.position + 10_000):
        assert "events.position is assigned by the event store" in refused(
            insert("position, ", f"{chosen}, ", overriding=True)
        )
    assert event_total() == before
    # Appends (one event, a batch) still take theirs from the sequence.
    second = store.append("Shelf", shelf, [counted(3), counted(4), counted(5)], 2)
    positions = [e.position for e in store.load(shelf)]
    assert positions == sorted(positions) and positions[-1] == second.position > first.position


@pytest.mark.postgres
def test_a_session_that_never_drew_a_position_cannot_choose_one():
    before = event_total()
    with other_connection() as fresh, pytest.raises(Exception, match="events_position_seq"):
        fresh.execute(insert("position, ", "1, ", overriding=True))
    assert event_total() == before


# -- versions start at 1 ---------------------------------------------------------------------


@pytest.mark.parametrize(("version", "schema_version"), [(0, 1), (-3, 1), (1, -1)])
def test_a_version_below_one_or_a_negative_schema_version_is_refused(version, schema_version):
    """Refused as a check violation (an IntegrityError): by CHECK constraints
    on SQLite, by the row guard on PostgreSQL (migration 0009)."""
    before = event_total()
    if connection.vendor == "postgresql":
        statement = insert().replace("'ShelfOpened', 1,", f"'ShelfOpened', {schema_version},")
        statement = statement.replace("'{}', 1,", f"'{{}}', {version},")
    else:
        statement = (
            "INSERT INTO events (event_id, aggregate_type, aggregate_id, event_type, schema_version,"
            f" event_data, metadata, version, created_at) VALUES ('{uuid.uuid4().hex}', 'Shelf',"
            f" '{uuid.uuid4().hex}', 'ShelfOpened', {schema_version}, '{{}}', '{{}}', {version},"
            " CURRENT_TIMESTAMP)"
        )
    message = refused(statement, error=IntegrityError)
    assert ("version" in message) if connection.vendor == "postgresql" else ("CHECK" in message)
    assert event_total() == before


# -- created_at is the database's time, give or take -------------------------------------


@contextmanager
def acting_as(role: str):
    execute(f'SET ROLE "{role}"')
    try:
        yield
    finally:
        execute("RESET ROLE")


@pytest.fixture
def app_role():
    """The application's restricted role (``db_roles``), created inside the
    test's transaction, so it goes when the test's changes are rolled back."""
    name = f"es_guard_{uuid.uuid4().hex[:12]}"
    call_command("db_roles", app_role=name, idle_in_transaction_timeout=0, stdout=io.StringIO())
    return name


@pytest.mark.postgres
@pytest.mark.parametrize(
    "at",
    ["now() - interval '1 day'", "now() - interval '6 minutes'", "clock_timestamp() + interval '1 hour'"],
)
def test_the_application_role_cannot_back_date_or_post_date_an_event(app_role, at):
    before = event_total()
    with acting_as(app_role):
        assert "created_at" in refused(insert(at=at))
        # Its clock may differ from the database's by a little.
        for near in ("now() - interval '2 minutes'", "clock_timestamp() + interval '2 minutes'"):
            with transaction.atomic():
                execute(insert(at=near))
    assert event_total() == before + 2


@pytest.mark.postgres
def test_the_application_role_appends_at_its_own_clock_and_the_owner_may_back_date(store, app_role):
    shelf = uuid.uuid4()
    with acting_as(app_role):
        store.append("Shelf", shelf, [counted(1)], NEW_STREAM)
        store.append("Shelf", shelf, [counted(2), counted(3)], 1)
        with clock.frozen(timezone.now() - timedelta(days=3)):
            with pytest.raises(DatabaseError, match="created_at"), transaction.atomic():
                store.append("Shelf", shelf, [counted(4)], 3)
    # The owner (the demo seed, benchmarks, these tests) writes history as of any time.
    with clock.frozen(timezone.now() - timedelta(days=3)):
        store.append("Shelf", shelf, [counted(4)], 3)
    assert [e.data["quantity"] for e in store.load(shelf)] == [1, 2, 3, 4]


# -- snapshots sit on recorded events --------------------------------------------------------


def snapshot_count(stream: uuid.UUID) -> int:
    key = dialect_for(connection).param_uuid(stream)
    return execute("SELECT COUNT(*) FROM snapshots WHERE aggregate_id = %s", [key])[0][0]


def test_a_snapshot_beyond_the_stream_or_of_no_stream_is_refused(store):
    """A snapshot above the stream's version would hide the events before it
    from every load; one of a stream that does not exist invents a state."""
    shelf, nowhere = uuid.uuid4(), uuid.uuid4()
    store.append("Shelf", shelf, [counted(1), counted(2), counted(3)], NEW_STREAM)
    for forged in (
        Snapshot(shelf, "Shelf", 4, 1, {"total": 1000}),  # beyond the stream
        Snapshot(shelf, "Order", 3, 1, {"total": 1000}),  # another kind of aggregate
        Snapshot(nowhere, "Shelf", 1, 1, {"total": 1000}),  # no such stream
    ):
        with pytest.raises(IntegrityError, match="snapshot"), transaction.atomic():
            store.save_snapshot(forged)
    assert snapshot_count(shelf) == snapshot_count(nowhere) == 0

    store.save_snapshot(Snapshot(shelf, "Shelf", 3, 1, {"total": 6}))
    snapshot, tail = store.load_from_snapshot(shelf)
    assert (snapshot.version, snapshot.state, tail) == (3, {"total": 6}, [])
    # Moving a snapshot past the stream is refused too.
    assert "snapshot" in refused("UPDATE snapshots SET version = version + 1", error=IntegrityError)
    assert store.load_snapshot(shelf).version == 3

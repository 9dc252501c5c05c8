"""The event store against the real database: append rules, reads, snapshots,
immutability, schemas and upcasting."""

import time
import uuid
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction

from eventstore import (
    NEW_STREAM,
    START,
    ConcurrencyError,
    EventSchemaError,
    EventStore,
    NewEvent,
    Snapshot,
    UnknownEventTypeError,
)
from eventstore.metadata import message_context
from tests.support import counted, event_count, wait_visible

pytestmark = pytest.mark.django_db


def test_append_then_load_returns_the_stream_in_version_order(store):
    shelf = uuid.uuid4()
    first = store.append("Shelf", shelf, [NewEvent("ShelfOpened", {}), counted(quantity=2)], NEW_STREAM)
    second = store.append("Shelf", shelf, [counted(quantity=3)], expected_version=2)

    assert (first.version, second.version) == (2, 3)
    assert second.position > first.position
    events = store.load(shelf)
    assert [(e.version, e.event_type) for e in events] == [
        (1, "ShelfOpened"),
        (2, "ItemCounted"),
        (3, "ItemCounted"),
    ]
    assert events[-1].position == second.position
    assert all(e.aggregate_id == shelf and e.aggregate_type == "Shelf" for e in events)
    assert events[1].data == {"sku": "WIDGET-A", "quantity": 2}
    assert [e.version for e in store.load(shelf, after_version=1)] == [2, 3]
    assert [e.version for e in store.load(shelf, after_version=1, up_to_version=2)] == [2]
    assert store.stream_version(shelf) == 3
    assert store.stream_version(uuid.uuid4()) == 0


def test_a_stale_expected_version_is_refused_and_stores_nothing(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted(), counted()], NEW_STREAM)
    before = event_count()
    with pytest.raises(ConcurrencyError) as err:
        store.append("Shelf", shelf, [counted(), counted()], expected_version=1)
    assert (err.value.expected_version, err.value.actual_version) == (1, 2)
    assert event_count() == before


def test_creating_a_stream_that_exists_is_a_concurrency_error(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    with pytest.raises(ConcurrencyError):
        store.append("Shelf", shelf, [counted()], NEW_STREAM)


def test_an_expected_version_ahead_of_the_stream_is_refused_so_versions_have_no_gaps(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    with pytest.raises(ConcurrencyError):
        store.append("Shelf", shelf, [counted()], expected_version=5)
    with pytest.raises(ConcurrencyError):
        store.append("Shelf", uuid.uuid4(), [counted()], expected_version=3)
    assert [e.version for e in store.load(shelf)] == [1]


def test_bad_arguments_are_refused(store):
    with pytest.raises(ValueError):
        store.append("Shelf", uuid.uuid4(), [], NEW_STREAM)
    with pytest.raises(ValueError):
        store.append("Shelf", uuid.uuid4(), [counted()], -1)


def test_unregistered_event_types_are_refused_and_nothing_of_the_batch_is_stored(store):
    shelf = uuid.uuid4()
    before = event_count()
    with pytest.raises(UnknownEventTypeError):
        store.append("Shelf", shelf, [counted(), NewEvent("ShelfBurned", {})], NEW_STREAM)
    assert event_count() == before


def test_data_that_breaks_its_schema_is_refused_and_nothing_is_stored(store):
    shelf = uuid.uuid4()
    before = event_count()
    with pytest.raises(EventSchemaError) as err:
        store.append("Shelf", shelf, [counted(), counted(quantity=0)], NEW_STREAM)
    assert "quantity" in str(err.value)
    assert event_count() == before


def test_metadata_has_the_standard_fields_from_context_and_per_event_extras(store):
    shelf = uuid.uuid4()
    with message_context(correlation_id="corr-42", user_id="17", command="CountItems"):
        store.append(
            "Shelf", shelf, [NewEvent("ItemCounted", {"sku": "A", "quantity": 1}, {"causation_id": "c-1"})], 0
        )
    [event] = store.load(shelf)
    assert event.metadata["correlation_id"] == "corr-42"
    assert event.metadata["causation_id"] == "c-1"
    assert event.metadata["user_id"] == "17"
    assert event.metadata["command"] == "CountItems"
    assert datetime.fromisoformat(event.metadata["timestamp"]) == event.created_at


def test_events_cannot_be_updated_or_deleted_even_with_raw_sql(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    for statement in (
        "UPDATE events SET event_data = '{}' WHERE version = 1",
        "UPDATE events SET version = version + 100",
        "DELETE FROM events",
    ):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert store.load(shelf)[0].data == {"sku": "WIDGET-A", "quantity": 1}


def test_point_in_time_load_returns_the_stream_as_it_was(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted(quantity=1)], NEW_STREAM)
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    store.append("Shelf", shelf, [counted(quantity=2)], 1)

    assert [e.data["quantity"] for e in store.load(shelf, until=middle)] == [1]
    assert [e.data["quantity"] for e in store.load(shelf)] == [1, 2]
    assert store.load(shelf, until=datetime(2000, 1, 1, tzinfo=UTC)) == []


def replay(events, state=None):
    state = dict(state or {"total": 0, "lines": 0})
    for e in events:
        if e.event_type == "ItemCounted":
            state["total"] += e.data["quantity"]
            state["lines"] += 1
    return state


def test_snapshot_plus_tail_equals_full_replay(store):
    shelf = uuid.uuid4()
    version = 0
    for i in range(1, 26):
        version = store.append("Shelf", shelf, [counted(quantity=i)], version).version
        if version == 10:
            store.save_snapshot(Snapshot(shelf, "Shelf", 10, 1, replay(store.load(shelf))))
    store.save_snapshot(Snapshot(shelf, "Shelf", 10, 1, {"ignored": True}))  # same version: no-op

    snapshot, tail = store.load_from_snapshot(shelf, schema_version=1)
    assert snapshot.version == 10
    assert [e.version for e in tail] == list(range(11, 26))
    assert replay(tail, snapshot.state) == replay(store.load(shelf)) == {"total": 325, "lines": 25}


def test_snapshot_lookup_by_version_and_by_state_format(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted() for _ in range(30)], NEW_STREAM)
    store.save_snapshot(Snapshot(shelf, "Shelf", 10, 1, {"at": 10}))
    store.save_snapshot(Snapshot(shelf, "Shelf", 20, 1, {"at": 20}))
    store.save_snapshot(Snapshot(shelf, "Shelf", 25, 2, {"at": 25}))

    assert store.load_snapshot(shelf).state == {"at": 25}
    assert store.load_snapshot(shelf, max_version=19).state == {"at": 10}
    assert store.load_snapshot(shelf, schema_version=1).state == {"at": 20}
    assert store.load_snapshot(shelf, schema_version=3) is None
    snapshot, tail = store.load_from_snapshot(shelf, schema_version=3)
    assert snapshot is None and len(tail) == 30


def test_a_stream_from_its_snapshot_and_other_whole_streams_come_in_one_read(store):
    shelf, other, empty = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    store.append("Shelf", shelf, [counted(quantity=n) for n in range(1, 13)], NEW_STREAM)
    store.save_snapshot(Snapshot(shelf, "Shelf", 10, 1, {"at": 10}))
    store.append("Shelf", other, [counted(sku="B-1"), counted(sku="B-2")], NEW_STREAM)

    snapshot, tail, others = store.load_with_streams(shelf, [other, empty, shelf, other], schema_version=1)

    assert snapshot.version == 10 and snapshot.state == {"at": 10}
    assert [(e.aggregate_id, e.version) for e in tail] == [(shelf, 11), (shelf, 12)]
    # The stream itself is not repeated among the others; an empty one is there, empty.
    assert set(others) == {other, empty}
    assert [(e.version, e.data["sku"]) for e in others[other]] == [(1, "B-1"), (2, "B-2")]
    assert others[empty] == []
    # Without a snapshot: the whole stream, the others the same.
    snapshot, tail, others = store.load_with_streams(other, [shelf], schema_version=2)
    assert snapshot is None and [e.version for e in tail] == [1, 2]
    assert [e.version for e in others[shelf]] == list(range(1, 13))
    assert store.load_with_streams(empty, [other])[:2] == (None, [])


def test_old_events_are_read_back_upcast_to_the_current_schema(test_registry):
    old_store = EventStore(registry=test_registry)
    shelf = uuid.uuid4()
    old_store.append("Shelf", shelf, [counted(sku="OLD-1", quantity=4)], NEW_STREAM)

    # A later release changes the shape: quantity becomes {"count", "unit"}.
    test_registry.register(
        "ItemCounted",
        {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "amount": {"type": "object"}},
            "required": ["sku", "amount"],
        },
        version=2,
        upcast_from_previous=lambda d: {"sku": d["sku"], "amount": {"count": d["quantity"], "unit": "pcs"}},
    )
    new_store = EventStore(registry=test_registry)
    new_store.append(
        "Shelf", shelf, [NewEvent("ItemCounted", {"sku": "NEW-1", "amount": {"count": 1, "unit": "box"}})], 1
    )

    old, new = new_store.load(shelf)
    assert old.data == {"sku": "OLD-1", "amount": {"count": 4, "unit": "pcs"}}
    assert (old.schema_version, old.stored_schema_version) == (2, 1)
    assert (new.schema_version, new.stored_schema_version) == (2, 2)
    # The stored row itself is untouched.
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_version FROM events WHERE position = %s", [old.position])
        assert cursor.fetchone()[0] == 1
    # The global read upcasts too (see test_global_read_upcasts_old_events).


# The global read returns committed events only, so these tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_global_read_upcasts_old_events(test_registry):
    store = EventStore(registry=test_registry)
    written = store.append("Shelf", uuid.uuid4(), [counted(sku="OLD-2", quantity=3)], NEW_STREAM)
    wait_visible(store, written.position)
    test_registry.register(
        "ItemCounted",
        {"type": "object", "required": ["sku", "count"]},
        version=2,
        upcast_from_previous=lambda d: {"sku": d["sku"], "count": d["quantity"]},
    )
    # Read from just before it: the log may hold more events than one batch.
    before = store.global_position_of(written.position)._replace(position=written.position - 1)
    [event] = store.read_all(before, limit=1)
    assert event.position == written.position
    assert event.data == {"sku": "OLD-2", "count": 3}
    assert event.stored_schema_version == 1


@pytest.mark.django_db(transaction=True)
def test_global_read_pages_through_the_log_in_order(store):
    shelves = [uuid.uuid4() for _ in range(5)]
    for shelf in shelves:
        last = store.append("Shelf", shelf, [counted(), counted()], NEW_STREAM)
    wait_visible(store, last.position)
    seen = []
    checkpoint = START
    while batch := store.read_all(checkpoint, limit=3):
        assert len(batch) <= 3
        seen.extend(batch)
        checkpoint = batch[-1].global_position
    ours = [e for e in seen if e.aggregate_id in shelves]
    assert len(ours) == 10
    assert [e.global_position for e in seen] == sorted(e.global_position for e in seen)
    assert store.global_position_of(ours[-1].position) == ours[-1].global_position
    assert store.global_position_of(10**12) is None

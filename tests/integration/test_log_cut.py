"""A cut of the log (eventstore.cut) is every event readable now and nothing
an open transaction could still put before it: the set-based rebuild and the
Python stream both stop at it, so it must be gap-safe and fixed."""

import time
import uuid

import pytest

from eventstore import NEW_STREAM, START, NewEvent
from eventstore.cut import readable_cut
from tests.support import counted, other_connection, wait_visible

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def appended(store, sku: str):
    return store.append("Shelf", uuid.uuid4(), [counted(sku)], NEW_STREAM)


def test_a_cut_counts_the_readable_events_by_type_and_version_and_ends_at_the_last(store):
    before = readable_cut()
    first, second = appended(store, "A"), appended(store, "B")
    wait_visible(store, second.position)
    cut = readable_cut()
    assert cut.total == before.total + 2
    assert cut.of_types({"ItemCounted"}) == before.of_types({"ItemCounted"}) + 2
    assert cut.versions("ItemCounted") == {1}
    assert cut.checkpoint == store.global_position_of(second.position)
    assert cut.checkpoint > store.global_position_of(first.position) > START
    streamed = [
        e.position for batch in store.stream_all(before.checkpoint, until=cut.checkpoint) for e in batch
    ]
    assert streamed == [first.position, second.position]


def test_a_cut_stops_before_a_transaction_that_could_still_append_and_then_stays_the_same(store):
    a = appended(store, "A")
    wait_visible(store, a.position)
    with other_connection() as open_transaction:
        open_transaction.execute("SELECT pg_current_xact_id()")  # could still append, earlier in the log
        c = appended(store, "C")
        time.sleep(0.05)
        cut = readable_cut()
        assert cut.checkpoint == store.global_position_of(a.position)  # C waits behind the open one
        open_transaction.rollback()
    wait_visible(store, c.position)
    later = readable_cut()
    assert later.checkpoint == store.global_position_of(c.position)
    # What the first cut held is fixed: read later, up to it, it is the same events.
    up_to_first = [e.position for batch in store.stream_all(START, until=cut.checkpoint) for e in batch]
    assert up_to_first[-1] == a.position and c.position not in up_to_first
    assert len(up_to_first) == cut.total


def test_stream_all_can_read_one_type_up_to_a_cut(store):
    before = readable_cut()
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [NewEvent("ShelfOpened", {}), counted("A")], NEW_STREAM)
    last = store.append("Shelf", shelf, [NewEvent("ShelfOpened", {})], 2)
    wait_visible(store, last.position)
    cut = readable_cut()
    assert cut.of_types({"ShelfOpened"}) == before.of_types({"ShelfOpened"}) + 2
    found = [
        e
        for batch in store.stream_all(before.checkpoint, until=cut.checkpoint, types={"ItemCounted"})
        for e in batch
    ]
    assert [(e.event_type, e.version) for e in found] == [("ItemCounted", 2)]
    assert list(store.stream_all(START, until=cut.checkpoint, types={"NoSuchType"})) == []

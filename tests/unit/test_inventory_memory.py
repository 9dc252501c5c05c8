"""A busy SKU's inventory state stays small: it remembers the references of
its open reservations and a window of recent others, not every reference it
ever saw, and repeats within that window still change nothing."""

import json
import uuid

from orders.domain.inventory import RECENT_REFERENCES, InventoryItem


def busy_item(cycles: int) -> InventoryItem:
    item = InventoryItem("WIDGET-A")
    item.receive(1000)
    for n in range(cycles):
        order = uuid.UUID(int=n + 1)
        item.reserve(order, 1, f"reserve-{n}")
        item.release(order, f"release-{n}")
    item.reserve(uuid.UUID(int=10**6), 3, "still-open")
    return item


def test_the_snapshot_keeps_open_references_and_a_bounded_window():
    item = busy_item(2_000)
    snapshot = item.to_snapshot()
    assert len(snapshot["recent_references"]) == RECENT_REFERENCES
    assert sum(len(refs) for refs in snapshot["open_references"].values()) == 1
    assert len(json.dumps(snapshot)) < 40_000  # was growing by every reference ever used


def test_repeats_within_the_window_and_of_open_reservations_change_nothing():
    item = busy_item(2_000)
    item.pending = []
    item.reserve(uuid.UUID(int=10**6), 3, "still-open")  # an open reservation's own reference
    item.release(uuid.UUID(int=2_000), "release-1999")  # the latest release
    item.reserve(uuid.UUID(int=2_000), 1, "reserve-1999")  # closed, but recent
    assert item.pending == []


def test_a_restored_snapshot_remembers_what_the_live_item_does():
    item = busy_item(700)
    restored = InventoryItem.from_snapshot("WIDGET-A", json.loads(json.dumps(item.to_snapshot())))
    assert restored.references == item.references
    assert restored.state() == item.state()


def test_replaying_the_events_gives_the_same_memory():
    live = busy_item(600)
    replayed = InventoryItem.from_history("WIDGET-A", live.pending)
    assert replayed.references == live.references
    assert replayed.to_snapshot() == live.to_snapshot()

"""Hardening of the event store (issue 10): history that cannot be rewritten
even by the application's own database role, no gap-safe read on a standby,
honest point-in-time loads, and no transaction left idle forever."""

import uuid
from datetime import UTC, datetime

import pytest

from eventstore import NEW_STREAM, NewEvent, clock

pytestmark = pytest.mark.django_db


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

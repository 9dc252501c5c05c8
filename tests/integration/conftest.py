"""Fixtures for tests against the real database: an event store with test
event types of its own, an order to aim requests at, and a projection made
to fail on one order's events."""

import uuid

import pytest

from eventstore import EventStore, EventTypeRegistry
from projections.base import registry
from tests.support import GADGET, WIDGET, place_order

ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "sku": {"type": "string", "minLength": 1},
        "quantity": {"type": "integer", "minimum": 1},
        "writer": {"type": "integer"},
    },
    "required": ["sku", "quantity"],
}


@pytest.fixture
def test_registry() -> EventTypeRegistry:
    reg = EventTypeRegistry()
    reg.register("ItemCounted", ITEM_SCHEMA, aggregate_type="Shelf")
    reg.register("ShelfOpened", {"type": "object"}, aggregate_type="Shelf")
    return reg


@pytest.fixture
def store(test_registry) -> EventStore:
    return EventStore(registry=test_registry)


@pytest.fixture
def placed_order_id():
    """The id of an open order of two lines (WIDGET-A and GADGET-B), placed
    through the command handler: a real order to aim requests at."""
    return place_order("cust_1", [WIDGET, GADGET]).order_id


@pytest.fixture
def break_projection():
    """Make one projection's apply raise for any batch holding an event of
    ``bad_id``; the returned function fixes it again."""
    patched = []

    def breaker(name: str, bad_id: uuid.UUID):
        projection = registry.get(name)
        real_apply = type(projection).apply

        def apply(batch, tables):
            if any(e.aggregate_id == bad_id for e in batch):
                raise RuntimeError(f"cannot project order {bad_id}")
            return real_apply(projection, batch, tables)

        projection.apply = apply
        patched.append(projection)
        return lambda: vars(projection).pop("apply", None)

    yield breaker
    for projection in patched:
        vars(projection).pop("apply", None)

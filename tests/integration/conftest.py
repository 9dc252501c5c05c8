"""Fixtures for tests against the real database: an event store with test
event types of its own, and an order to aim requests at."""

import pytest

from eventstore import EventStore, EventTypeRegistry
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

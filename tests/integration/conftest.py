import pytest

from eventstore import EventStore, EventTypeRegistry

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

"""Events linked to other streams (eventstore.links): written with the
append, atomically, read back with the stream they link to in global order,
immutable; on both databases."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from eventstore import NEW_STREAM, ConcurrencyError, EventStore, NewEvent
from eventstore.models import EventLink
from tests.integration.conftest import ITEM_SCHEMA

pytestmark = pytest.mark.django_db

PICKED = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "for_order": {"type": "string"}, "also": {"type": "string"}},
    "required": ["sku"],
}


@pytest.fixture
def linking(test_registry) -> EventStore:
    test_registry.register("ItemPicked", PICKED, aggregate_type="Shelf", links=("for_order", "also"))
    test_registry.register("OrderOpened", {"type": "object"}, aggregate_type="Order")
    return EventStore(registry=test_registry)


def picked(order, **more) -> NewEvent:
    return NewEvent("ItemPicked", {"sku": "WIDGET-A", "for_order": str(order), **more})


def test_a_stream_is_read_with_the_events_linked_to_it_in_global_order(linking):
    order, shelf, other_shelf = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    linking.append("Order", order, [NewEvent("OrderOpened", {})], NEW_STREAM)
    linking.append(
        "Shelf", shelf, [picked(order), NewEvent("ItemCounted", {"sku": "X", "quantity": 1})], NEW_STREAM
    )
    linking.append("Order", order, [NewEvent("OrderOpened", {})], 1)
    linking.append("Shelf", other_shelf, [picked(order, also=str(order))], NEW_STREAM)  # two fields, one link
    linking.append("Shelf", shelf, [picked(uuid.uuid4())], 2)  # another order's

    found = linking.load_linked(order)

    assert [(e.aggregate_id, e.version) for e in found] == [
        (order, 1),
        (shelf, 1),
        (order, 2),
        (other_shelf, 1),
    ]
    assert [e.position for e in found] == sorted(e.position for e in found)
    assert found[1].data == {"sku": "WIDGET-A", "for_order": str(order)}
    assert EventLink.objects.filter(stream_id=order).count() == 2


def test_a_field_without_a_stream_id_links_nothing(linking):
    shelf = uuid.uuid4()
    linking.append("Shelf", shelf, [picked("not-an-id"), NewEvent("ItemPicked", {"sku": "A"})], NEW_STREAM)

    assert [e.version for e in linking.load(shelf)] == [1, 2]
    assert not EventLink.objects.filter(position__in=[e.position for e in linking.load(shelf)]).exists()


def test_a_refused_append_leaves_no_link(linking):
    order, shelf = uuid.uuid4(), uuid.uuid4()
    linking.append("Shelf", shelf, [picked(order)], NEW_STREAM)

    with pytest.raises(ConcurrencyError), transaction.atomic():
        linking.append("Shelf", shelf, [picked(order), picked(order)], 0)  # the stream exists
    with pytest.raises(ConcurrencyError):
        linking.append("Shelf", shelf, [picked(order)], 5)  # not at version 5

    assert [e.version for e in linking.load_linked(order)] == [1]
    assert EventLink.objects.filter(stream_id=order).count() == 1


def test_links_join_the_caller_s_transaction(linking):
    order, shelf = uuid.uuid4(), uuid.uuid4()

    with pytest.raises(RuntimeError), transaction.atomic():
        linking.append("Shelf", shelf, [picked(order)], NEW_STREAM)
        raise RuntimeError("the command failed after appending")

    assert linking.load_linked(order) == []
    assert not EventLink.objects.filter(stream_id=order).exists()


def test_links_cannot_be_changed_or_removed(linking):
    order = uuid.uuid4()
    linking.append("Shelf", uuid.uuid4(), [picked(order)], NEW_STREAM)

    for statement in (
        "UPDATE event_links SET stream_id = stream_id",
        "DELETE FROM event_links",
    ):
        with pytest.raises(DatabaseError, match="event links are immutable"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert EventLink.objects.filter(stream_id=order).count() == 1


def test_the_catalog_says_which_fields_link(linking):
    [entry] = [t for t in linking.registry.catalog() if t["event_type"] == "ItemPicked"]
    assert entry["links"] == ["for_order", "also"]


def test_an_event_type_links_the_same_way_in_every_version(test_registry):
    with pytest.raises(ValueError, match="links"):
        test_registry.register("ItemCounted", ITEM_SCHEMA | {"title": "v2"}, version=2,
                               upcast_from_previous=dict, links=("sku",))  # fmt: skip
    personal = {"type": "object", "properties": {"name": {"type": "string", "x-personal": True}},
                "x-personal-subject": "who"}  # fmt: skip
    with pytest.raises(ValueError, match="personal"):
        test_registry.register("Greeted", personal, links=("who",))
    assert "Greeted" not in test_registry


def test_stock_events_from_before_links_get_them_from_the_migration(test_registry):
    """orders 0006 links the stock events recorded before event types could
    link; a malformed order id links nothing."""
    import importlib

    migration = importlib.import_module("orders.migrations.0006_stock_events_linked_to_orders")
    test_registry.register("StockReserved", PICKED, aggregate_type="InventoryItem")  # no links
    unlinked = EventStore(registry=test_registry)
    order, stock = uuid.uuid4(), uuid.uuid4()
    data = {"sku": "WIDGET-A", "order_id": str(order)}
    unlinked.append("InventoryItem", stock, [NewEvent("StockReserved", data)], NEW_STREAM)
    unlinked.append("InventoryItem", stock, [NewEvent("StockReserved", {"sku": "W", "order_id": "junk"})], 1)
    assert unlinked.load_linked(order) == []

    forward = migration.POSTGRES_FORWARD if connection.vendor == "postgresql" else migration.SQLITE_FORWARD
    with connection.cursor() as cursor:
        cursor.execute(forward[0])
        cursor.execute(forward[0])  # again: nothing twice

    assert [(e.aggregate_id, e.version) for e in unlinked.load_linked(order)] == [(stock, 1)]
    assert EventLink.objects.filter(position__in=[e.position for e in unlinked.load(stock)]).count() == 1

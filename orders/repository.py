"""Loads and saves OrderAggregates through the event store."""

from datetime import datetime
from uuid import UUID

from django.conf import settings

from eventstore import AppendResult, EventStore, NewEvent, RecordedEvent, Snapshot
from orders.domain import OrderAggregate, OrderNotFoundError
from orders.domain.aggregate import SNAPSHOT_SCHEMA_VERSION
from orders.domain.events import AGGREGATE_TYPE, event_from_data
from orders.domain.inventory import (
    INVENTORY_AGGREGATE,
    InventoryItem,
    inventory_event_from_data,
    inventory_id,
)
from orders.domain.inventory import SNAPSHOT_SCHEMA_VERSION as INVENTORY_SNAPSHOT_VERSION


class StaleVersionError(Exception):
    """The client's If-Match version is not the order's current version."""

    def __init__(self, order_id: UUID, expected: int, current: int | None):
        self.order_id, self.expected, self.current = order_id, expected, current
        now = "unknown" if current is None else current
        super().__init__(f"order {order_id} is at version {now}, not {expected}; reload and try again")


def to_domain(recorded: list[RecordedEvent]):
    return [event_from_data(e.event_type, e.data) for e in recorded]


class OrderRepository:
    def __init__(self, store: EventStore | None = None, snapshot_every: int | None = None):
        self.store = store or EventStore()
        self.snapshot_every = snapshot_every or settings.EVENTSTORE_SNAPSHOT_EVERY

    def new(self, order_id: UUID) -> OrderAggregate:
        """A fresh order to place; ``save`` refuses it if the id is taken."""
        return OrderAggregate(order_id)

    def get(self, order_id: UUID, expected_version: int | None = None) -> OrderAggregate:
        """The order as of its latest event (a new, unplaced one if it has
        none). With ``expected_version``, a different version is refused."""
        snapshot, tail = self.store.load_from_snapshot(order_id, schema_version=SNAPSHOT_SCHEMA_VERSION)
        if (snapshot and snapshot.aggregate_type != AGGREGATE_TYPE) or (
            tail and tail[0].aggregate_type != AGGREGATE_TYPE
        ):
            raise OrderNotFoundError(order_id)  # another kind of stream (e.g. a SKU's inventory)
        order = OrderAggregate.from_history(order_id, to_domain(tail), snapshot.state if snapshot else None)
        if expected_version is not None and order.version != expected_version:
            raise StaleVersionError(order_id, expected_version, order.version)
        return order

    def get_at(self, order_id: UUID, at: datetime) -> tuple[OrderAggregate, list[RecordedEvent]]:
        """The order replayed from its events recorded at or before ``at``."""
        history = self.store.load(order_id, until=at)
        if history and history[0].aggregate_type != AGGREGATE_TYPE:
            raise OrderNotFoundError(order_id)
        return OrderAggregate.from_history(order_id, to_domain(history)), history

    def save(self, order: OrderAggregate) -> AppendResult | None:
        """Append the order's pending events, expecting the stream to be where
        it was loaded; snapshot when the stream crosses a multiple of N.
        None when the command decided nothing needed to happen."""
        if not order.pending:
            return None
        events = [NewEvent(e.event_type, e.to_data()) for e in order.pending]
        loaded_version = order.version - len(events)
        result = self.store.append(AGGREGATE_TYPE, order.id, events, expected_version=loaded_version)
        order.pending = []
        if loaded_version // self.snapshot_every != result.version // self.snapshot_every:
            self.store.save_snapshot(
                Snapshot(
                    order.id, AGGREGATE_TYPE, order.version, SNAPSHOT_SCHEMA_VERSION, order.to_snapshot()
                )
            )
        return result


class InventoryRepository:
    """Loads and saves InventoryItems (one stream per SKU)."""

    def __init__(self, store: EventStore | None = None, snapshot_every: int | None = None):
        self.store = store or EventStore()
        self.snapshot_every = snapshot_every or settings.EVENTSTORE_SNAPSHOT_EVERY

    def get(self, sku: str) -> InventoryItem:
        snapshot, tail = self.store.load_from_snapshot(
            inventory_id(sku), schema_version=INVENTORY_SNAPSHOT_VERSION
        )
        events = [inventory_event_from_data(e.event_type, e.data) for e in tail]
        return InventoryItem.from_history(sku, events, snapshot.state if snapshot else None)

    def save(self, item: InventoryItem) -> AppendResult | None:
        if not item.pending:
            return None
        events = [NewEvent(e.event_type, e.to_data()) for e in item.pending]
        loaded_version = item.version - len(events)
        result = self.store.append(INVENTORY_AGGREGATE, item.id, events, expected_version=loaded_version)
        item.pending = []
        if loaded_version // self.snapshot_every != result.version // self.snapshot_every:
            self.store.save_snapshot(
                Snapshot(
                    item.id, INVENTORY_AGGREGATE, item.version, INVENTORY_SNAPSHOT_VERSION, item.to_snapshot()
                )
            )
        return result

"""Loads aggregates from the event store and appends what they decided: one
generic repository, configured per kind of aggregate (orders, a SKU's
inventory)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from django.conf import settings

from eventstore import (
    START,
    AppendResult,
    ConcurrencyError,
    EventStore,
    GlobalPosition,
    NewEvent,
    RecordedEvent,
    Snapshot,
)
from orders.domain import (
    OrderAggregate,
    OrderNotFoundError,
    ProductNotFoundError,
    aggregate,
    customer,
    inventory,
    product,
)
from orders.domain.events import AGGREGATE_TYPE, event_from_data
from orders.domain.product import CataloguePrice, Product
from orders.errors import StaleVersionError, StreamRaceLost

A = TypeVar("A")


@dataclass(frozen=True)
class AggregateKind(Generic[A]):
    """How one kind of aggregate is stored: its stream type, how a key maps
    to a stream id, how events decode and state folds, the snapshot format."""

    aggregate_type: str
    stream_id: Callable[[Any], UUID]
    from_history: Callable[[Any, list, dict | None], A]
    decode: Callable[[str, dict], Any]
    snapshot_version: int
    not_found: Callable[[Any], Exception]
    # What the stream is to a client, and how one is named (the noun and its
    # key, e.g. a SKU, unless ``named`` says otherwise): in a 412's words.
    noun: str
    key_of: Callable[[Any], Any]
    named: str = ""
    # A stream with no events is not there (404), rather than empty (a SKU's
    # stock before any arrived): If-Match on it is answered as not found.
    must_exist: bool = False

    def subject(self, key) -> str:
        return self.named.format(key) if self.named else f"{self.noun} {key}"


ORDERS = AggregateKind(
    AGGREGATE_TYPE,
    stream_id=lambda order_id: order_id,
    from_history=OrderAggregate.from_history,
    decode=event_from_data,
    snapshot_version=aggregate.SNAPSHOT_SCHEMA_VERSION,
    not_found=OrderNotFoundError,
    noun="order",
    key_of=lambda order: order.id,
    must_exist=True,
)
INVENTORY = AggregateKind(
    inventory.INVENTORY_AGGREGATE,
    stream_id=inventory.inventory_id,
    from_history=inventory.InventoryItem.from_history,
    decode=inventory.inventory_event_from_data,
    snapshot_version=inventory.SNAPSHOT_SCHEMA_VERSION,
    not_found=lambda sku: LookupError(f"no inventory stream for {sku}"),
    noun="stock",
    named="the stock of {}",
    key_of=lambda item: item.sku,
)
PRODUCTS = AggregateKind(
    product.PRODUCT_AGGREGATE,
    stream_id=product.product_id,
    from_history=Product.from_history,
    decode=product.product_event_from_data,
    snapshot_version=product.SNAPSHOT_SCHEMA_VERSION,
    not_found=ProductNotFoundError,
    noun="product",
    key_of=lambda item: item.sku,
    must_exist=True,
)
CUSTOMERS = AggregateKind(
    customer.CUSTOMER_AGGREGATE,
    stream_id=customer.customer_stream_id,
    from_history=customer.Customer.from_history,
    decode=customer.customer_event_from_data,
    snapshot_version=customer.SNAPSHOT_SCHEMA_VERSION,
    not_found=lambda customer_id: LookupError(f"no customer stream for {customer_id}"),
    noun="customer",
    key_of=lambda customer: customer.customer_id,
)


class Repository(Generic[A]):
    kind: ClassVar[AggregateKind]

    def __init__(self, store: EventStore | None = None, snapshot_every: int | None = None):
        self.store = store or EventStore()
        self.snapshot_every = snapshot_every or settings.EVENTSTORE_SNAPSHOT_EVERY

    def _check_type(self, key, recorded: list[RecordedEvent], snapshot: Snapshot | None = None) -> None:
        found = snapshot.aggregate_type if snapshot else recorded[0].aggregate_type if recorded else None
        if found is not None and found != self.kind.aggregate_type:
            raise self.kind.not_found(key)  # another kind of stream under this id

    def to_domain(self, recorded: list[RecordedEvent]) -> list:
        return [self.kind.decode(e.event_type, e.data) for e in recorded]

    def get(self, key, expected_version: int | None = None) -> A:
        """The aggregate as of its latest event (a new, empty one if it has
        none): the latest snapshot plus the events after it. With
        ``expected_version``, a different version is refused."""
        return self.get_with(key, expected_version, ())[0]

    def get_with(
        self, key, expected_version: int | None, other_streams: Iterable[UUID]
    ) -> tuple[A, dict[UUID, list[RecordedEvent]]]:
        """``get``, and the events of ``other_streams`` read in the same round
        trip (e.g. the catalogue entries a command prices lines from)."""
        snapshot, tail, others = self.store.load_with_streams(
            self.kind.stream_id(key), other_streams, schema_version=self.kind.snapshot_version
        )
        self._check_type(key, tail, snapshot)
        found = self.kind.from_history(key, self.to_domain(tail), snapshot.state if snapshot else None)
        if expected_version is not None and found.version != expected_version:
            kind = self.kind
            if kind.must_exist and not found.version:
                raise kind.not_found(key)
            raise StaleVersionError(found.id, expected_version, found.version, kind.noun, kind.subject(key))
        return found, others

    def head(self, aggregate: A) -> GlobalPosition:
        """The place in the log of the event the aggregate was loaded up to
        (START for a stream with none): what a command that appended nothing
        hands out as its consistency token."""
        if not aggregate.version:
            return START
        [last] = self.store.load(
            aggregate.id, after_version=aggregate.version - 1, up_to_version=aggregate.version
        )
        return last.global_position

    def get_at(self, key, at: datetime) -> tuple[A, list[RecordedEvent]]:
        """The aggregate replayed from its events up to ``at``, and those events."""
        history = self.store.load(self.kind.stream_id(key), until=at)
        self._check_type(key, history)
        return self.kind.from_history(key, self.to_domain(history), None), history

    def save(self, aggregate: A) -> AppendResult | None:
        """Append the aggregate's pending events, expecting the stream to be
        where it was loaded; snapshot when the stream crosses a multiple of N.
        None when the command decided nothing needed to happen."""
        if not aggregate.pending:
            return None
        events = [NewEvent(e.event_type, e.to_data()) for e in aggregate.pending]
        loaded_version = aggregate.version - len(events)
        try:
            result = self.store.append(
                self.kind.aggregate_type, aggregate.id, events, expected_version=loaded_version
            )
        except ConcurrencyError as exc:  # named as the client knows it, should a 412 come of it
            raise StreamRaceLost(exc, self.kind.noun, self.kind.subject(self.kind.key_of(aggregate))) from exc
        aggregate.pending = []
        if loaded_version // self.snapshot_every != result.version // self.snapshot_every:
            snapshot = Snapshot(
                aggregate.id,
                self.kind.aggregate_type,
                aggregate.version,
                self.kind.snapshot_version,
                aggregate.to_snapshot(),
            )
            self.store.save_snapshot(snapshot)
        return result


class OrderRepository(Repository[OrderAggregate]):
    kind = ORDERS

    def customer_of(self, order_id: UUID) -> str | None:
        """The customer of the order (None if there is no such order)."""
        try:
            return self.get(order_id).customer_id
        except OrderNotFoundError:  # another kind of stream under this id
            return None


class InventoryRepository(Repository[inventory.InventoryItem]):
    kind = INVENTORY


class ProductRepository(Repository[Product]):
    kind = PRODUCTS

    def catalogue(
        self, skus, streams: dict[UUID, list[RecordedEvent]] | None = None
    ) -> dict[str, CataloguePrice]:
        """The catalogue entries of ``skus`` that exist, from their event
        streams, loaded together in one query (or given: ``streams``, read
        with another stream by ``Repository.get_with``)."""
        skus = list(dict.fromkeys(skus))
        if streams is None:
            streams = self.store.load_streams(product.product_id(sku) for sku in skus)
        found = {}
        for sku in skus:
            recorded = streams[product.product_id(sku)]
            if recorded and recorded[0].aggregate_type == self.kind.aggregate_type:
                found[sku] = Product.from_history(sku, self.to_domain(recorded)).catalogue_price
        return found


class CustomerRepository(Repository[customer.Customer]):
    kind = CUSTOMERS

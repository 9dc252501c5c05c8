"""Stock (InventoryItem), the order confirmation step and the OrderPlaced
schema versions, as given events / when command / then events or error, plus
a state machine over random stock commands."""

import copy
import json
import uuid

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventstore.errors import EventSchemaError
from eventstore.registry import EventTypeRegistry
from orders.catalog import register_order_events
from orders.domain import (
    EVENT_TYPES,
    InvalidOrderDataError,
    ItemAdded,
    ItemRemoved,
    Line,
    OrderAggregate,
    OrderCancelled,
    OrderClosedError,
    OrderConfirmed,
    OrderNotFoundError,
    OrderPlaced,
    OrderShipped,
    OrderStatus,
)
from orders.domain.customer import CUSTOMER_EVENT_TYPES, Customer
from orders.domain.errors import OrderNotConfirmedError
from orders.domain.inventory import (
    INVENTORY_EVENT_TYPES,
    MAX_RECEIVE,
    InventoryItem,
    ReservationRefused,
    StockReceived,
    StockReleased,
    StockReserved,
    StockShipped,
    inventory_id,
)
from orders.domain.shipping import Contact, ShippingAddress


def make_registry() -> EventTypeRegistry:
    reg = EventTypeRegistry()
    register_order_events(reg)
    return reg


REGISTRY = make_registry()
SKU = "WIDGET-A"
ORDER_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
ORDER_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


def stock(*events) -> InventoryItem:
    return InventoryItem.from_history(SKU, list(events))


def stocked(on_hand: int) -> InventoryItem:
    return stock(StockReceived(SKU, on_hand, on_hand))


# -- InventoryItem: receive ---------------------------------------------------------


@pytest.mark.parametrize("quantity", [1, 7, MAX_RECEIVE])
def test_receiving_stock_adds_to_on_hand_and_records_the_new_level(quantity):
    item = stocked(5)
    item.receive(quantity)
    assert item.pending == [StockReceived(SKU, quantity, 5 + quantity)]
    assert (item.on_hand, item.available, item.version) == (5 + quantity, 5 + quantity, 2)


@pytest.mark.parametrize("quantity", [0, -1, -500, True, False, MAX_RECEIVE + 1, 2.5, "3", None])
def test_receiving_an_invalid_quantity_is_refused_and_changes_nothing(quantity):
    item = stocked(5)
    before = item.state()
    with pytest.raises(InvalidOrderDataError) as err:
        item.receive(quantity)
    assert err.value.field == "quantity"
    assert item.pending == []
    assert item.state() == before


# -- InventoryItem: reserve ---------------------------------------------------------


def test_reserving_within_what_is_available_sets_units_aside():
    item = stocked(10)
    item.reserve(ORDER_A, 4, "r1")
    assert item.pending == [StockReserved(SKU, str(ORDER_A), 4, "r1")]
    assert (item.on_hand, item.reserved, item.available) == (10, 4, 6)
    item.reserve(ORDER_A, 6, "r2")  # exactly what is left
    assert item.pending[-1] == StockReserved(SKU, str(ORDER_A), 6, "r2")
    assert (item.on_hand, item.reserved, item.available) == (10, 10, 0)
    assert item.reservations == {str(ORDER_A): 10}


@pytest.mark.parametrize(("on_hand", "requested"), [(0, 1), (3, 4), (10, 10_000)])
def test_reserving_more_than_available_is_refused_and_reserves_nothing(on_hand, requested):
    item = stock(StockReceived(SKU, on_hand, on_hand)) if on_hand else stock()
    item.reserve(ORDER_A, requested, "r1")
    assert item.pending == [ReservationRefused(SKU, str(ORDER_A), requested, on_hand, "r1")]
    assert item.reservations == {}
    assert (item.on_hand, item.reserved, item.available) == (on_hand, 0, on_hand)


def test_a_refusal_reports_what_is_available_after_other_reservations():
    item = stock(StockReceived(SKU, 10, 10), StockReserved(SKU, str(ORDER_B), 7, "rb"))
    item.reserve(ORDER_A, 4, "ra")
    assert item.pending == [ReservationRefused(SKU, str(ORDER_A), 4, 3, "ra")]
    assert item.reservations == {str(ORDER_B): 7}


@pytest.mark.parametrize("quantity", [2, 50])  # reserved the first time, refused the first time
def test_the_same_reservation_reference_twice_changes_nothing(quantity):
    item = stocked(10)
    item.reserve(ORDER_A, quantity, "r1")
    first = item.to_snapshot()
    item.pending = []
    item.receive(100)  # even with more stock, a repeat is not a retry
    item.pending = []
    item.reserve(ORDER_A, quantity, "r1")
    item.reserve(ORDER_B, 1, "r1")
    assert item.pending == []
    assert item.reservations == first["reservations"]


@pytest.mark.parametrize("quantity", [0, -3])
def test_reserving_a_non_positive_quantity_records_nothing(quantity):
    item = stocked(5)
    with pytest.raises(InvalidOrderDataError):
        item.reserve(ORDER_A, quantity, "r1")
    assert item.pending == []
    assert (item.reserved, item.available) == (0, 5)


# -- InventoryItem: release and ship ------------------------------------------------


def test_release_gives_back_everything_reserved_for_the_order():
    item = stock(
        StockReceived(SKU, 10, 10),
        StockReserved(SKU, str(ORDER_A), 3, "r1"),
        StockReserved(SKU, str(ORDER_A), 2, "r2"),
        StockReserved(SKU, str(ORDER_B), 4, "r3"),
    )
    item.release(ORDER_A, "rel-1")
    assert item.pending == [StockReleased(SKU, str(ORDER_A), 5, "rel-1")]
    assert item.reservations == {str(ORDER_B): 4}
    assert (item.on_hand, item.reserved, item.available) == (10, 4, 6)


def test_release_with_nothing_reserved_records_nothing():
    item = stock(StockReceived(SKU, 10, 10), StockReserved(SKU, str(ORDER_B), 4, "r1"))
    item.release(ORDER_A, "rel-1")
    assert item.pending == []
    assert item.reservations == {str(ORDER_B): 4}


def test_release_with_a_reference_already_seen_records_nothing():
    item = stock(
        StockReceived(SKU, 10, 10),
        StockReserved(SKU, str(ORDER_A), 3, "r1"),
        StockReleased(SKU, str(ORDER_A), 3, "rel-1"),
        StockReserved(SKU, str(ORDER_A), 2, "r2"),
    )
    item.release(ORDER_A, "rel-1")  # a redelivered release must not free the new reservation
    item.release(ORDER_A, "r2")
    assert item.pending == []
    assert item.reservations == {str(ORDER_A): 2}


def test_ship_removes_the_reserved_units_from_on_hand_and_reserved():
    item = stock(
        StockReceived(SKU, 10, 10),
        StockReserved(SKU, str(ORDER_A), 3, "r1"),
        StockReserved(SKU, str(ORDER_B), 4, "r2"),
    )
    item.ship(ORDER_A, "ship-1")
    assert item.pending == [StockShipped(SKU, str(ORDER_A), 3, "ship-1")]
    assert item.reservations == {str(ORDER_B): 4}
    assert (item.on_hand, item.reserved, item.available) == (7, 4, 3)
    item.ship(ORDER_A, "ship-2")  # nothing left for that order
    item.ship(ORDER_B, "ship-1")  # reference already seen
    assert item.pending == [StockShipped(SKU, str(ORDER_A), 3, "ship-1")]
    assert item.on_hand == 7


def test_reservations_of_several_orders_are_independent():
    item = stocked(10)
    item.reserve(ORDER_A, 6, "a1")
    item.reserve(ORDER_B, 5, "b1")  # only 4 left
    item.reserve(ORDER_B, 4, "b2")
    assert item.reservations == {str(ORDER_A): 6, str(ORDER_B): 4}
    item.release(ORDER_B, "b3")
    assert item.reservations == {str(ORDER_A): 6}
    assert item.available == 4
    item.ship(ORDER_A, "a2")
    assert (item.on_hand, item.reserved, item.available) == (4, 0, 4)
    assert [type(e) for e in item.pending] == [
        StockReserved,
        ReservationRefused,
        StockReserved,
        StockReleased,
        StockShipped,
    ]


def test_state_reports_available_as_on_hand_minus_reserved():
    item = stock(
        StockReceived(SKU, 9, 9),
        StockReserved(SKU, str(ORDER_A), 2, "r1"),
        StockReserved(SKU, str(ORDER_B), 3, "r2"),
    )
    assert item.state() == {
        "sku": SKU,
        "version": 3,
        "on_hand": 9,
        "reserved": 5,
        "available": 4,
        "reservations": {str(ORDER_A): 2, str(ORDER_B): 3},
    }


def test_inventory_snapshot_round_trip_keeps_references():
    item = stock(StockReceived(SKU, 9, 9), StockReserved(SKU, str(ORDER_A), 2, "r1"))
    restored = InventoryItem.from_snapshot(SKU, json.loads(json.dumps(item.to_snapshot())))
    assert restored.state() == item.state()
    restored.reserve(ORDER_A, 1, "r1")
    assert restored.pending == []


# -- inventory ids --------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [("WIDGET-A", "WIDGET-B"), ("WIDGET-A", "widget-a"), ("A", "A-")])
def test_inventory_id_is_deterministic_and_differs_per_sku(a, b):
    assert inventory_id(a) == inventory_id(a)
    assert isinstance(inventory_id(a), uuid.UUID)
    assert InventoryItem(a).id == inventory_id(a)
    assert inventory_id(a) != inventory_id(b)


# -- InventoryItem: random command sequences ------------------------------------------

ORDERS = [uuid.UUID(f"00000000-0000-4000-8000-{i:012d}") for i in range(1, 4)]
orders = st.sampled_from(ORDERS)
references = st.sampled_from([f"ref-{i}" for i in range(6)])


class InventoryLifecycle(RuleBasedStateMachine):
    """Checks the item against a plain model of on hand / reservations / references."""

    def __init__(self):
        super().__init__()
        self.item = InventoryItem(SKU)
        self.history = []
        self.snapshots = []
        self.on_hand = 0
        self.reservations: dict[str, int] = {}
        self.references: set[str] = set()

    def _run(self, command, reference=None):
        before = copy.deepcopy(self.item.to_snapshot())
        command()
        emitted, self.item.pending = self.item.pending, []
        assert len(emitted) <= 1
        if reference in self.references:
            assert emitted == [], "a repeated reference must not emit"
            assert self.item.to_snapshot() == before
        for event in emitted:
            REGISTRY.validate(event.event_type, event.to_data())
        self.history.extend(emitted)
        return emitted

    @rule(quantity=st.integers(min_value=1, max_value=20))
    def receive(self, quantity):
        emitted = self._run(lambda: self.item.receive(quantity))
        self.on_hand += quantity
        assert emitted == [StockReceived(SKU, quantity, self.on_hand)]

    @rule(quantity=st.sampled_from([0, -1, True, MAX_RECEIVE + 1]))
    def receive_invalid(self, quantity):
        before = copy.deepcopy(self.item.to_snapshot())
        with pytest.raises(InvalidOrderDataError):
            self.item.receive(quantity)
        assert self.item.pending == []
        assert self.item.to_snapshot() == before

    @rule(order=orders, quantity=st.integers(min_value=1, max_value=30), reference=references)
    def reserve(self, order, quantity, reference):
        seen = reference in self.references
        available = self.on_hand - sum(self.reservations.values())
        emitted = self._run(lambda: self.item.reserve(order, quantity, reference), reference)
        if seen:
            return
        if quantity <= available:
            assert emitted == [StockReserved(SKU, str(order), quantity, reference)]
            self.reservations[str(order)] = self.reservations.get(str(order), 0) + quantity
        else:
            assert emitted == [ReservationRefused(SKU, str(order), quantity, available, reference)]
        self.references.add(reference)

    @rule(order=orders, reference=references)
    def release(self, order, reference):
        seen = reference in self.references
        held = self.reservations.get(str(order), 0)
        emitted = self._run(lambda: self.item.release(order, reference), reference)
        if seen or held == 0:
            assert emitted == []
            return
        assert emitted == [StockReleased(SKU, str(order), held, reference)]
        del self.reservations[str(order)]
        self.references.add(reference)

    @rule(order=orders, reference=references)
    def ship(self, order, reference):
        seen = reference in self.references
        held = self.reservations.get(str(order), 0)
        emitted = self._run(lambda: self.item.ship(order, reference), reference)
        if seen or held == 0:
            assert emitted == []
            return
        assert emitted == [StockShipped(SKU, str(order), held, reference)]
        del self.reservations[str(order)]
        self.on_hand -= held
        self.references.add(reference)

    @precondition(lambda self: self.item.version > 0)
    @rule()
    def take_snapshot(self):
        # Stored as JSON, as a repository would.
        self.snapshots.append((self.item.version, json.loads(json.dumps(self.item.to_snapshot()))))

    @invariant()
    def stock_is_never_negative(self):
        item = self.item
        assert item.on_hand >= 0
        assert item.reserved >= 0
        assert item.available >= 0
        assert all(quantity > 0 for quantity in item.reservations.values())
        assert item.reserved == sum(item.reservations.values())
        assert item.available == item.on_hand - item.reserved

    @invariant()
    def item_matches_the_model(self):
        assert self.item.version == len(self.history)
        assert self.item.on_hand == self.on_hand
        assert self.item.reservations == self.reservations
        assert self.item.references == self.references

    @invariant()
    def replay_rebuilds_the_live_state(self):
        live_state, live_snapshot = self.item.state(), self.item.to_snapshot()
        rebuilt = InventoryItem.from_history(SKU, self.history)
        assert rebuilt.state() == live_state
        assert rebuilt.to_snapshot() == live_snapshot
        for version, snapshot in self.snapshots:
            rebuilt = InventoryItem.from_history(SKU, self.history[version:], snapshot)
            assert rebuilt.state() == live_state
            assert rebuilt.to_snapshot() == live_snapshot
            assert rebuilt.references == self.item.references  # repeats stay no-ops after a restore


InventoryLifecycle.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestInventoryLifecycle = InventoryLifecycle.TestCase


# -- Order confirmation ---------------------------------------------------------------

NEEDS_STOCK = OrderPlaced(
    "cust_456", (Line("WIDGET-A", 2, 1999), Line("GADGET-B", 1, 500)), 4498, requires_confirmation=True
)
NO_STOCK_NEEDED = OrderPlaced("cust_456", (Line("WIDGET-A", 2, 1999),), 3998)


def given(*events):
    return OrderAggregate.from_history(uuid.uuid4(), list(events))


def test_placing_an_order_that_requires_confirmation_records_it():
    order = OrderAggregate(uuid.uuid4())
    order.place("cust_456", [("WIDGET-A", 2, 1999), ("GADGET-B", 1, 500)], requires_confirmation=True)
    assert order.pending == [NEEDS_STOCK]
    assert order.status is OrderStatus.PLACED
    assert order.requires_confirmation is True
    assert order.state()["requires_confirmation"] is True


def test_an_order_that_requires_confirmation_cannot_ship_until_confirmed():
    order = given(NEEDS_STOCK)
    with pytest.raises(OrderNotConfirmedError):
        order.ship("DHL", "JD0001")
    assert order.pending == []
    assert order.status is OrderStatus.PLACED
    order.confirm()
    assert order.pending == [OrderConfirmed()]
    assert order.status is OrderStatus.CONFIRMED
    order.ship("DHL", "JD0001")
    assert order.pending == [OrderConfirmed(), OrderShipped("DHL", "JD0001")]
    assert order.status is OrderStatus.SHIPPED


def test_confirming_twice_records_one_confirmation():
    order = given(NEEDS_STOCK)
    order.confirm()
    order.confirm()
    assert order.pending == [OrderConfirmed()]
    assert order.version == 2
    again = given(NEEDS_STOCK, OrderConfirmed())
    again.confirm()
    assert again.pending == []


def test_confirming_an_order_that_needs_no_confirmation_records_nothing_and_it_ships():
    order = given(NO_STOCK_NEEDED)
    order.confirm()
    assert order.pending == []
    assert order.status is OrderStatus.PLACED
    order.ship()
    assert order.pending == [OrderShipped(None, None)]


def test_adding_an_item_to_a_confirmed_order_needs_a_new_confirmation():
    order = given(NEEDS_STOCK, OrderConfirmed())
    order.add_item("WIDGET-A", 1, 1999)
    assert order.pending == [ItemAdded("WIDGET-A", 1, 1999, 4498 + 1999)]
    assert order.status is OrderStatus.PLACED
    with pytest.raises(OrderNotConfirmedError):
        order.ship()
    order.confirm()
    assert order.pending[-1] == OrderConfirmed()
    order.ship()
    assert order.status is OrderStatus.SHIPPED
    # Replaying the same history gives the same answer.
    replayed = given(NEEDS_STOCK, OrderConfirmed(), ItemAdded("NEW-1", 1, 10, 4508))
    assert replayed.status is OrderStatus.PLACED
    with pytest.raises(OrderNotConfirmedError):
        replayed.ship()


def test_adding_an_item_to_an_order_that_needs_no_confirmation_keeps_it_shippable():
    order = given(NO_STOCK_NEEDED)
    order.add_item("NEW-1", 1, 10)
    order.ship()
    assert order.pending[-1] == OrderShipped(None, None)


def test_removing_an_item_keeps_the_order_confirmed():
    order = given(NEEDS_STOCK, OrderConfirmed())
    order.remove_item("GADGET-B")
    assert order.pending == [ItemRemoved("GADGET-B", 1, 500, 3998)]
    assert order.status is OrderStatus.CONFIRMED
    order.ship()
    assert order.pending[-1] == OrderShipped(None, None)


@pytest.mark.parametrize(
    "history", [[NEEDS_STOCK], [NEEDS_STOCK, OrderConfirmed()]], ids=["placed", "confirmed"]
)
def test_an_open_order_can_be_cancelled_whether_confirmed_or_not(history):
    order = given(*history)
    order.cancel("out of stock")
    assert order.pending == [OrderCancelled("out of stock")]
    assert order.status is OrderStatus.CANCELLED


@pytest.mark.parametrize(
    "history",
    [
        [NEEDS_STOCK, OrderConfirmed(), OrderShipped(None, None)],
        [NEEDS_STOCK, OrderCancelled("fraud")],
        [NEEDS_STOCK, OrderConfirmed(), OrderCancelled("fraud")],
        [NO_STOCK_NEEDED, OrderShipped(None, None)],
    ],
    ids=["shipped", "cancelled", "cancelled-after-confirmation", "shipped-without-confirmation"],
)
def test_confirming_a_closed_order_is_refused(history):
    order = given(*history)
    status = order.status
    with pytest.raises(OrderClosedError):
        order.confirm()
    assert order.pending == []
    assert order.status is status


def test_confirming_an_order_that_was_never_placed_fails():
    with pytest.raises(OrderNotFoundError):
        OrderAggregate(uuid.uuid4()).confirm()


@pytest.mark.parametrize(
    "history",
    [
        [NEEDS_STOCK],
        [NEEDS_STOCK, OrderConfirmed()],
        [NEEDS_STOCK, OrderConfirmed(), ItemAdded("NEW-1", 1, 10, 4508)],
        [NO_STOCK_NEEDED],
        [NEEDS_STOCK, OrderConfirmed(), OrderShipped("DHL", "T1")],
    ],
    ids=["placed", "confirmed", "reopened", "no-confirmation", "shipped"],
)
def test_snapshot_round_trip_keeps_confirmation_state(history):
    order = given(*history)
    snapshot = json.loads(json.dumps(order.to_snapshot()))
    restored = OrderAggregate.from_snapshot(order.id, snapshot)
    assert restored.state() == order.state()
    assert restored.requires_confirmation is order.requires_confirmation
    assert restored.status is order.status


def test_an_order_restored_from_a_snapshot_still_waits_for_confirmation():
    order = given(NEEDS_STOCK)
    restored = OrderAggregate.from_history(order.id, [], json.loads(json.dumps(order.to_snapshot())))
    with pytest.raises(OrderNotConfirmedError):
        restored.ship()
    restored.confirm()
    assert restored.pending == [OrderConfirmed()]


# -- Schema versions ------------------------------------------------------------------

V1_PLACED = {
    "customer_id": "cust_456",
    "items": [{"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}],
    "total_cents": 3998,
}


def test_order_placed_is_registered_at_version_2_with_an_upcaster():
    entry = REGISTRY.get("OrderPlaced")
    assert REGISTRY.current_versions["OrderPlaced"] == 2
    assert entry.current.version == 2
    assert [v.version for v in entry.versions] == [1, 2]
    assert entry.versions[0].upcaster is None
    assert entry.versions[1].upcaster is not None
    others = {name: v for name, v in REGISTRY.current_versions.items() if name != "OrderPlaced"}
    every = set(EVENT_TYPES) | set(INVENTORY_EVENT_TYPES) | set(CUSTOMER_EVENT_TYPES)
    assert others == dict.fromkeys(every - {"OrderPlaced"}, 1)


def test_v1_order_placed_data_fits_only_the_v1_schema():
    v1 = REGISTRY.get("OrderPlaced").versions[0]
    assert v1.validator.is_valid(V1_PLACED)
    with pytest.raises(EventSchemaError):
        REGISTRY.validate("OrderPlaced", V1_PLACED)


def test_upcasting_v1_order_placed_adds_requires_confirmation_false():
    upcast = REGISTRY.upcast("OrderPlaced", 1, dict(V1_PLACED))
    assert upcast == {**V1_PLACED, "requires_confirmation": False}
    assert REGISTRY.validate("OrderPlaced", upcast) == 2
    current = NEEDS_STOCK.to_data()
    assert REGISTRY.upcast("OrderPlaced", 2, current) == current  # current data passes through


def test_an_order_rebuilt_from_an_upcast_v1_event_ships_without_confirmation():
    placed = OrderPlaced.from_data(REGISTRY.upcast("OrderPlaced", 1, dict(V1_PLACED)))
    assert placed == OrderPlaced("cust_456", (Line("WIDGET-A", 2, 1999),), 3998, requires_confirmation=False)
    order = given(placed)
    assert order.requires_confirmation is False
    order.ship("UPS", None)
    assert order.pending == [OrderShipped("UPS", None)]


def _events_from_commands():
    """One of every event type, as the aggregates themselves record them."""
    order = OrderAggregate(uuid.uuid4())
    order.place("cust_456", [("WIDGET-A", 2, 1999), ("GADGET-B", 1, 0)], requires_confirmation=True)
    order.add_item("NEW-1", 3, 10_000_000)
    order.remove_item("GADGET-B")
    order.confirm()
    order.ship("DHL", "x" * 100)
    cancelled = OrderAggregate(uuid.uuid4())
    cancelled.place(
        "c1",
        [("A", 1, 1)],
        contact=Contact("N" * 200, "a@b.co"),
        address=ShippingAddress("l" * 200, None, None, "c" * 100, "GB"),
    )
    cancelled.change_shipping_address(ShippingAddress("1 Rue", "bis", "75001", "Paris", "FR"))
    cancelled.cancel("r" * 500)
    customer = Customer("c1")
    customer.forget(data_key_deleted=True)
    item = InventoryItem(SKU)
    item.reserve(ORDER_A, 1, "r0")  # refused with nothing available
    item.receive(MAX_RECEIVE)
    item.reserve(ORDER_A, 4, "r" * 200)
    item.reserve(ORDER_B, 2, "r2")
    item.release(ORDER_A, "r3")
    item.ship(ORDER_B, "r4")
    return [*order.pending, *cancelled.pending, *item.pending, *customer.pending]


def test_every_event_validates_against_its_registered_current_schema():
    events = _events_from_commands()
    assert {e.event_type for e in events} == set(EVENT_TYPES) | set(INVENTORY_EVENT_TYPES) | set(
        CUSTOMER_EVENT_TYPES
    )
    for event in events:
        assert REGISTRY.validate(event.event_type, event.to_data()) == event.schema_version, event


def test_order_placed_round_trips_requires_confirmation_through_its_stored_form():
    for placed in (NEEDS_STOCK, NO_STOCK_NEEDED):
        assert OrderPlaced.from_data(json.loads(json.dumps(placed.to_data()))) == placed

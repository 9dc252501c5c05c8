"""Random command sequences never break an order invariant, and replaying the
emitted events (with or without a snapshot) rebuilds exactly the live state."""

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orders.domain import DomainError, OrderAggregate, OrderStatus
from orders.domain import rules as limits

skus = st.sampled_from([f"SKU-{i}" for i in range(6)])
quantities = st.integers(min_value=-2, max_value=10_002)
prices = st.sampled_from([0, 1, 99, 1999, 10_000_000, -5, 10_000_001])


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.order = OrderAggregate(uuid.uuid4())
        self.history = []
        self.snapshots = []

    def _try(self, command):
        before = self.order.to_snapshot()
        try:
            command()
        except DomainError:
            # A refused command leaves the state exactly as it was.
            assert self.order.to_snapshot() == before
            assert self.order.pending == []
        self.history.extend(self.order.pending)
        self.order.pending = []

    @rule(
        lines=st.lists(st.tuples(skus, quantities, prices), max_size=4),
        customer=st.sampled_from(["c1", "bad id"]),
    )
    def place(self, lines, customer):
        self._try(lambda: self.order.place(customer, lines))

    @rule(sku=skus, quantity=quantities, price=prices)
    def add_item(self, sku, quantity, price):
        self._try(lambda: self.order.add_item(sku, quantity, price))

    @rule(sku=skus)
    def remove_item(self, sku):
        self._try(lambda: self.order.remove_item(sku))

    @rule(carrier=st.sampled_from([None, "DHL", "x" * 101]))
    def ship(self, carrier):
        self._try(lambda: self.order.ship(carrier))

    @rule(reason=st.sampled_from(["", "changed mind"]))
    def cancel(self, reason):
        self._try(lambda: self.order.cancel(reason))

    @precondition(lambda self: self.order.exists)
    @rule()
    def take_snapshot(self):
        self.snapshots.append((self.order.version, self.order.to_snapshot()))

    @invariant()
    def invariants_hold(self):
        order = self.order
        assert order.version == len(self.history)
        if not order.exists:
            assert order.lines == {} and order.version == 0
            return
        assert 1 <= len(order.lines) <= limits.MAX_LINES
        for sku, line in order.lines.items():
            assert line.sku == sku
            assert limits.MIN_QUANTITY <= line.quantity <= limits.MAX_QUANTITY
            assert limits.MIN_PRICE_CENTS <= line.price_cents <= limits.MAX_PRICE_CENTS
        assert order.total_cents == sum(ln.quantity * ln.price_cents for ln in order.lines.values())
        if order.status is OrderStatus.CANCELLED:
            assert order.cancel_reason

    @invariant()
    def replay_rebuilds_the_live_state(self):
        live = self.order.state()
        assert OrderAggregate.from_history(self.order.id, self.history).state() == live
        for version, snapshot in self.snapshots:
            rebuilt = OrderAggregate.from_history(self.order.id, self.history[version:], snapshot)
            assert rebuilt.state() == live

    @invariant()
    def item_events_carry_the_running_total(self):
        if self.history and hasattr(self.history[-1], "order_total_cents"):
            assert self.history[-1].order_total_cents == self.order.total_cents


OrderLifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase

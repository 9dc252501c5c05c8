"""Helpers for the projection tests: a price list and the order commands at
its prices, random but valid workloads, the event store's clock, and reading
the order read models' tables, checkpoints and status.

Everything commits for real (``transaction=True``): the event store's
gap-safe read only returns committed events. Projections run only when a
test calls the runner (PROJECTIONS_MODE is "off", see tests/conftest.py)."""

import random
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta

from django.db import connection

import eventstore.clock
from eventstore import START, EventStore, GlobalPosition
from eventstore.sql import Postgres
from orders import commands
from projections import rebuild, runner
from projections.base import registry
from projections.models import ProjectionCheckpoint
from projections.status import status as projection_status
from tests.support import place_order, stock_catalogue, wait_until

# -- orders at list prices ---------------------------------------------------------------

PRICES = {
    "WIDGET-A": 1999,
    "GADGET-B": 500,
    "BOLT-7": 25,
    "NUT-8": 10,
    "PIPE-3": 700,
    "CABLE-X": 1234,
    "LAMP-9": 4550,
    "FREE-0": 0,
}


def place_at_list_prices(customer: str, *items: tuple[str, int]) -> commands.CommandResult:
    """Place an order of (sku, quantity) items, each at its price in PRICES."""
    return place_order(customer, [(sku, quantity, PRICES[sku]) for sku, quantity in items])


def add_at_list_price(order_id, sku: str, quantity: int) -> commands.CommandResult:
    stock_catalogue([(sku, quantity, PRICES[sku])])
    return commands.execute(commands.AddItem(order_id, sku, quantity, PRICES[sku]))


def remove(order_id, sku: str) -> commands.CommandResult:
    return commands.execute(commands.RemoveItem(order_id, sku))


def ship(order_id, carrier=None, tracking=None) -> commands.CommandResult:
    return commands.execute(commands.ShipOrder(order_id, carrier, tracking))


def cancel(order_id, reason: str) -> commands.CommandResult:
    return commands.execute(commands.CancelOrder(order_id, reason))


class Clock:
    """The time the event store stamps on events (eventstore.clock), so a
    history can be spread over chosen days. This thread only."""

    def __init__(self, start: datetime):
        self._frozen = ExitStack()
        self.now = start

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, when: datetime) -> None:
        self._frozen.close()
        self._frozen.enter_context(eventstore.clock.frozen(when))
        self._now = when

    def close(self) -> None:
        self._frozen.close()


class Workload:
    """Random but valid commands from a seed: place orders, add (new or
    existing SKUs), remove lines, ship, cancel."""

    def __init__(self, seed: int, clock: Clock | None = None, customers: int = 40):
        self.rng = random.Random(seed)
        self.clock = clock
        self.customers = [f"cust_{seed}_{i:03d}" for i in range(customers)]
        self.open: dict[uuid.UUID, set[str]] = {}
        self.placed = 0
        self.commands = 0

    def step(self) -> None:
        rng = self.rng
        if self.clock is not None:
            self.clock.now += timedelta(minutes=rng.randint(1, 45), microseconds=rng.randint(0, 999_999))
        self.commands += 1
        if not self.open or rng.random() < 0.4:
            skus = rng.sample(sorted(PRICES), rng.randint(1, 3))
            placed = place_at_list_prices(rng.choice(self.customers), *[(s, rng.randint(1, 5)) for s in skus])
            self.open[placed.order_id] = set(skus)
            self.placed += 1
            return
        oid = rng.choice(list(self.open))
        skus = self.open[oid]
        roll = rng.random()
        if roll < 0.45:
            sku = rng.choice(sorted(PRICES))
            add_at_list_price(oid, sku, rng.randint(1, 4))
            skus.add(sku)
        elif roll < 0.6 and len(skus) > 1:
            sku = rng.choice(sorted(skus))
            remove(oid, sku)
            skus.discard(sku)
        elif roll < 0.85:
            ship(oid, *rng.choice([("DHL", f"JD{self.commands:06d}"), (None, None), ("UPS", None)]))
            del self.open[oid]
        else:
            cancel(oid, rng.choice(["changed mind", "out of stock", "duplicate"]))
            del self.open[oid]

    def orders(self, n: int) -> "Workload":
        """Run until ``n`` more orders have been placed."""
        target = self.placed + n
        while self.placed < target:
            self.step()
        return self


# -- the order read models -----------------------------------------------------------------

ORDER_READ_MODELS = ("customer_summary", "daily_sales", "order_list")


def order_projections():
    """The order read models (inventory and fulfilment have their own tests)."""
    return [registry.get(name) for name in ORDER_READ_MODELS]


def tables_of(projection) -> list[str]:
    return sorted(model._meta.db_table for model in projection.models.values())


ALL_TABLES = sorted(t for name in ORDER_READ_MODELS for t in tables_of(registry.get(name)))


def rows(table: str, order_by: str | None = None) -> list[dict]:
    """Every row of ``table`` as a dict, surrogate id left out, in a stable order."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}" + (f" ORDER BY {order_by}" if order_by else ""))
        columns = [c.name for c in cursor.description]
        out = [{c: v for c, v in zip(columns, row, strict=True) if c != "id"} for row in cursor.fetchall()]
    return out if order_by else sorted(out, key=lambda r: [str(v) for v in r.values()])


def state(projection) -> dict[str, list[dict]]:
    """Every row of every table of ``projection``."""
    return {table: rows(table) for table in tables_of(projection)}


def all_states() -> dict[str, dict[str, list[dict]]]:
    """The state of each order read model, by name."""
    return {p.name: state(p) for p in order_projections()}


def indexes(tables) -> list[tuple[str, str, str]]:
    """(table, index name, definition) of every index on ``tables``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = ANY(%s) ORDER BY 1, 2",
            [list(tables)],
        )
        return cursor.fetchall()


def table_oids(tables) -> dict[str, int]:
    """Each existing table's PostgreSQL oid: a new one means a new table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, oid::bigint FROM pg_class WHERE relname = ANY(%s)", [list(tables)])
        return dict(cursor.fetchall())


# -- the log, the runner and the checkpoints ---------------------------------------------------


def head() -> tuple[GlobalPosition, int]:
    """The last event in the order projections read the log, and the count."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1")
        last = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM events")
        return GlobalPosition(*(last or START)), cursor.fetchone()[0]


def order_events_in_log() -> int:
    """How many events of orders the log holds: what the order read models
    apply (they also read, and pass over, the catalogue's events)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events WHERE aggregate_type = 'Order'")
        return cursor.fetchone()[0]


def readable(timeout: float = 60) -> None:
    """Wait until every committed event is readable. The gap-safe read holds
    back events of transactions newer than the oldest one still running in
    this database, so another session's open write transaction delays it;
    wait that out."""
    last, _ = head()

    def past_the_last() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(Postgres.READABLE_BOUND)
            return cursor.fetchone()[0] > last.tx_id

    wait_until(past_the_last, timeout, "the transactions holding the event log back to end", interval=0.02)


def events() -> list:
    """The whole log, through the gap-safe global read."""
    readable()
    return EventStore().read_all(START, limit=1_000_000)


def catch_up() -> dict[str, int]:
    """runner.run_all() once every event is readable: it then reaches the head.
    What each order read model read."""
    readable()
    ran = runner.run_all()
    return {name: ran[name] for name in ORDER_READ_MODELS}


def rebuilt(projections):
    """Rebuild ``projections`` from the start of the log, once every event is readable."""
    readable()
    return rebuild.rebuild(projections)


def assert_a_rebuild_changes_nothing() -> None:
    """Rebuilding each order read model from the log leaves every one of its
    rows as the live runs left them."""
    live = all_states()
    for p in order_projections():
        rebuilt(p)
    assert all_states() == live


def checkpoint(name: str) -> ProjectionCheckpoint:
    return ProjectionCheckpoint.objects.get(name=name)


def at(cp: ProjectionCheckpoint) -> GlobalPosition:
    """Where a checkpoint stands in the log."""
    return GlobalPosition(cp.tx_id, cp.position)


def status_of(name: str) -> dict:
    """The projection's entry in the status (state, lag, failures)."""
    return next(s for s in projection_status() if s["name"] == name)

"""The read models against real PostgreSQL: what each projection holds after a
known history, idempotency, rebuild == live (also while commands keep
arriving), poison events, concurrent runners and inline consistency.

Everything commits for real (``transaction=True``): the event store's
gap-safe read only returns committed events. Projections run only when a test
calls the runner (PROJECTIONS_MODE is "off", see tests/conftest.py)."""

import os
import random
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

import eventstore.clock
from eventstore import START, EventStore, GlobalPosition, hooks
from eventstore.sql import Postgres
from orders import commands
from orders.domain import Line
from orders.repository import OrderRepository
from projections import batches, checkpoints, failures, inline, locks, rebuild, runner
from projections.base import registry
from projections.models import ProjectionCheckpoint, ProjectionFailure
from projections.status import status as projection_status
from projections.tables import BufferedTables
from tests.support import other_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

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


# -- helpers -----------------------------------------------------------------------


def place(customer: str, *items: tuple[str, int]) -> commands.CommandResult:
    lines = tuple(Line(sku, quantity, PRICES[sku]) for sku, quantity in items)
    return commands.execute(commands.PlaceOrder(customer, lines))


def add(order_id, sku: str, quantity: int) -> commands.CommandResult:
    return commands.execute(commands.AddItem(order_id, sku, quantity, PRICES[sku]))


def remove(order_id, sku: str) -> commands.CommandResult:
    return commands.execute(commands.RemoveItem(order_id, sku))


def ship(order_id, carrier=None, tracking=None) -> commands.CommandResult:
    return commands.execute(commands.ShipOrder(order_id, carrier, tracking))


def cancel(order_id, reason: str) -> commands.CommandResult:
    return commands.execute(commands.CancelOrder(order_id, reason))


def tables_of(projection) -> list[str]:
    return sorted(model._meta.db_table for model in projection.models.values())


ALL_TABLES = sorted(
    t for name in ("customer_summary", "daily_sales", "order_list") for t in tables_of(registry.get(name))
)


def rows(table: str, order_by: str | None = None) -> list[dict]:
    """Every row of ``table`` as a dict, surrogate id left out, in a stable order."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}" + (f" ORDER BY {order_by}" if order_by else ""))
        columns = [c.name for c in cursor.description]
        out = [{c: v for c, v in zip(columns, row, strict=True) if c != "id"} for row in cursor.fetchall()]
    return out if order_by else sorted(out, key=lambda r: [str(v) for v in r.values()])


def state(projection) -> dict[str, list[dict]]:
    return {table: rows(table) for table in tables_of(projection)}


def all_states() -> dict[str, dict[str, list[dict]]]:
    return {p.name: state(p) for p in order_projections()}


def head() -> tuple[GlobalPosition, int]:
    """The last event in the order projections read the log, and the count."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1")
        last = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM events")
        return GlobalPosition(*(last or START)), cursor.fetchone()[0]


def readable(timeout: float = 60) -> None:
    """Wait until every committed event is readable. The gap-safe read holds
    back events of transactions newer than the oldest one still running in
    this database, so another session's open write transaction delays it;
    wait that out."""
    last, _ = head()
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute(Postgres.READABLE_BOUND)
            if cursor.fetchone()[0] > last.tx_id:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("a transaction elsewhere on the server keeps the event log unreadable")
        time.sleep(0.02)


ORDER_READ_MODELS = ("customer_summary", "daily_sales", "order_list")


def order_projections():
    """The order read models (inventory and fulfilment have their own tests)."""
    return [registry.get(name) for name in ORDER_READ_MODELS]


def catch_up() -> dict[str, int]:
    """runner.run_all() once every event is readable: it then reaches the head.
    What each order read model read."""
    readable()
    ran = runner.run_all()
    return {name: ran[name] for name in ORDER_READ_MODELS}


def rebuilt(projections):
    readable()
    return rebuild.rebuild(projections)


def events() -> list:
    readable()
    return EventStore().read_all(START, limit=1_000_000)


def checkpoint(name: str) -> ProjectionCheckpoint:
    return ProjectionCheckpoint.objects.get(name=name)


def at(cp: ProjectionCheckpoint) -> GlobalPosition:
    return GlobalPosition(cp.tx_id, cp.position)


def status_of(name: str) -> dict:
    return next(s for s in projection_status() if s["name"] == name)


def indexes(tables) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = ANY(%s) ORDER BY 1, 2",
            [list(tables)],
        )
        return cursor.fetchall()


def table_oids(tables) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, oid::bigint FROM pg_class WHERE relname = ANY(%s)", [list(tables)])
        return dict(cursor.fetchall())


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


@pytest.fixture
def clock():
    c = Clock(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    yield c
    c.close()


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
            placed = place(rng.choice(self.customers), *[(s, rng.randint(1, 5)) for s in skus])
            self.open[placed.order_id] = set(skus)
            self.placed += 1
            return
        oid = rng.choice(list(self.open))
        skus = self.open[oid]
        roll = rng.random()
        if roll < 0.45:
            sku = rng.choice(sorted(PRICES))
            add(oid, sku, rng.randint(1, 4))
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


# -- 1. each read model after a known history ---------------------------------------------


def T(day: int, hour: int, minute: int) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def history(clock):
    """Four orders over two UTC days, then the projections caught up."""
    h = SimpleNamespace()
    clock.now = T(1, 10, 0)
    h.a = place("alice", ("WIDGET-A", 2), ("GADGET-B", 1))  # 3998 + 500 = 4498
    clock.now = T(1, 10, 5)
    add(h.a.order_id, "WIDGET-A", 3)  # same SKU: 5 units, 10495
    clock.now = T(1, 10, 10)
    add(h.a.order_id, "BOLT-7", 4)  # 10595
    clock.now = T(1, 10, 15)
    remove(h.a.order_id, "GADGET-B")  # 10095
    clock.now = T(1, 11, 0)
    h.b = place("alice", ("NUT-8", 10))  # 100
    clock.now = T(1, 11, 30)
    h.b_cancelled = cancel(h.b.order_id, "customer changed mind")
    clock.now = T(1, 12, 0)
    h.c = place("bob", ("PIPE-3", 1))  # 700
    clock.now = T(2, 9, 0)
    h.a_shipped = ship(h.a.order_id, "DHL", "JD0001")
    clock.now = T(2, 9, 30)
    h.d = place("bob", ("WIDGET-A", 1))  # 1999
    clock.now = T(2, 10, 0)
    add(h.c.order_id, "PIPE-3", 1)  # 1400
    clock.now = T(2, 10, 30)
    h.c_shipped = ship(h.c.order_id)
    h.ran = catch_up()
    return h


def test_order_list_rows_carry_status_totals_counts_times_and_version(history):
    h = history
    by_id = {r["order_id"]: r for r in rows("order_list")}
    assert set(by_id) == {h.a.order_id, h.b.order_id, h.c.order_id, h.d.order_id}

    a = by_id[h.a.order_id]
    assert (a["customer_id"], a["status"], a["total_cents"]) == ("alice", "shipped", 10095)
    assert (a["line_count"], a["item_count"]) == (2, 9)  # WIDGET-A x5 + BOLT-7 x4
    assert (a["placed_at"], a["shipped_at"], a["cancelled_at"]) == (T(1, 10, 0), T(2, 9, 0), None)
    assert (a["carrier"], a["tracking_number"], a["cancel_reason"]) == ("DHL", "JD0001", "")
    assert (a["version"], a["last_position"], a["updated_at"]) == (5, h.a_shipped.position, T(2, 9, 0))

    b = by_id[h.b.order_id]
    assert (b["status"], b["total_cents"], b["line_count"], b["item_count"]) == ("cancelled", 100, 1, 10)
    assert (b["cancelled_at"], b["shipped_at"], b["cancel_reason"]) == (
        T(1, 11, 30),
        None,
        "customer changed mind",
    )
    assert (b["version"], b["last_position"]) == (2, h.b_cancelled.position)

    c = by_id[h.c.order_id]
    assert (c["status"], c["total_cents"], c["line_count"], c["item_count"]) == ("shipped", 1400, 1, 2)
    assert (c["shipped_at"], c["carrier"], c["tracking_number"]) == (T(2, 10, 30), "", "")
    assert (c["version"], c["last_position"]) == (3, h.c_shipped.position)

    d = by_id[h.d.order_id]
    assert (d["customer_id"], d["status"], d["total_cents"], d["version"]) == ("bob", "placed", 1999, 1)
    assert (d["placed_at"], d["shipped_at"], d["cancelled_at"], d["last_position"]) == (
        T(2, 9, 30),
        None,
        None,
        h.d.position,
    )


def test_order_lines_merge_the_same_sku_drop_removed_lines_and_keep_their_order(history):
    h = history
    lines = [r for r in rows("order_lines", order_by="order_id, line_no") if r["order_id"] == h.a.order_id]
    assert [
        (r["sku"], r["quantity"], r["price_cents"], r["line_total_cents"], r["line_no"]) for r in lines
    ] == [
        ("WIDGET-A", 5, 1999, 9995, 1),
        ("BOLT-7", 4, 25, 100, 3),  # GADGET-B (line 2) is gone; numbers are not reused
    ]
    c_lines = [r for r in rows("order_lines") if r["order_id"] == h.c.order_id]
    assert [(r["sku"], r["quantity"], r["line_no"]) for r in c_lines] == [("PIPE-3", 2, 1)]
    assert len(rows("order_lines")) == 2 + 1 + 1 + 1  # a, b, c, d


def test_a_line_removed_and_added_again_comes_back_at_the_end(clock):
    o = place("carol", ("WIDGET-A", 1), ("GADGET-B", 1))
    remove(o.order_id, "WIDGET-A")
    add(o.order_id, "WIDGET-A", 2)
    catch_up()
    lines = rows("order_lines", order_by="line_no")
    assert [(r["sku"], r["quantity"], r["line_no"]) for r in lines] == [
        ("GADGET-B", 1, 2),
        ("WIDGET-A", 2, 3),
    ]


def test_customer_summary_counts_orders_by_status_and_values_open_and_shipped_ones(history):
    h = history
    summary = {r["customer_id"]: r for r in rows("customer_summary")}
    assert summary == {
        "alice": {
            "customer_id": "alice",
            "orders_placed": 2,
            "orders_open": 0,
            "orders_shipped": 1,
            "orders_cancelled": 1,
            "lifetime_total_cents": 10095,  # a shipped; b cancelled does not count
            "first_order_at": T(1, 10, 0),
            "last_order_at": T(1, 11, 0),
        },
        "bob": {
            "customer_id": "bob",
            "orders_placed": 2,
            "orders_open": 1,
            "orders_shipped": 1,
            "orders_cancelled": 0,
            "lifetime_total_cents": 1400 + 1999,  # c shipped (after its add) + d open
            "first_order_at": T(1, 12, 0),
            "last_order_at": T(2, 9, 30),
        },
    }
    orders = {
        r["order_id"]: (r["status"], r["total_cents"], r["version"]) for r in rows("customer_summary_orders")
    }
    assert orders == {
        h.a.order_id: ("shipped", 10095, 5),
        h.b.order_id: ("cancelled", 100, 2),
        h.c.order_id: ("shipped", 1400, 3),
        h.d.order_id: ("placed", 1999, 1),
    }


def test_daily_sales_books_orders_when_placed_and_takes_revenue_on_the_day_they_ship(history):
    assert rows("daily_sales", order_by="day") == [
        {
            "day": date(2025, 3, 1),
            "orders_placed": 3,
            "orders_shipped": 0,
            "orders_cancelled": 1,
            "booked_cents": 4498 + 100 + 700,  # totals at placement
            "revenue_cents": 0,
        },
        {
            "day": date(2025, 3, 2),
            "orders_placed": 1,
            "orders_shipped": 2,
            "orders_cancelled": 0,
            "booked_cents": 1999,
            "revenue_cents": 10095 + 1400,  # a and c, at their totals when shipped
        },
    ]


def test_checkpoints_reach_the_head_and_count_every_event(history):
    last, count = head()
    assert history.ran == {"customer_summary": count, "daily_sales": count, "order_list": count}
    for p in order_projections():
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, count)
        assert status_of(p.name)["lag_events"] == 0 and status_of(p.name)["state"] == "running"


# -- 2. idempotency --------------------------------------------------------------------


def checkpoints_now() -> dict[str, tuple]:
    return {
        cp.name: (cp.tx_id, cp.position, cp.events_seen, cp.events_applied)
        for cp in ProjectionCheckpoint.objects.all()
    }


def test_running_the_runner_again_changes_nothing(clock):
    Workload(2, clock).orders(40)
    catch_up()
    before, cps = all_states(), checkpoints_now()
    assert catch_up() == {p.name: 0 for p in order_projections()}
    assert all_states() == before
    assert checkpoints_now() == cps


@pytest.mark.parametrize("name", ["order_list", "customer_summary", "daily_sales"])
def test_applying_the_same_batch_twice_leaves_the_tables_as_applying_it_once(name, clock):
    Workload(3, clock).orders(40)
    projection = registry.get(name)
    batch = [e for e in events() if e.event_type in projection.event_types]
    with transaction.atomic():
        tables = projection.tables()
        assert projection.apply(batch, tables) == len(batch)
        once = state(projection)
        assert projection.apply(batch, tables) == 0
        assert state(projection) == once
        # an overlapping batch (the tail of the first plus nothing new) too
        assert projection.apply(batch[len(batch) // 2 :], tables) == 0
        assert state(projection) == once
    assert once == state(projection)  # committed as applied once
    assert all(once.values())


def test_moving_a_checkpoint_back_replays_the_events_without_changing_anything(clock):
    Workload(4, clock).orders(40)
    catch_up()
    before = all_states()
    last, count = head()
    log = events()

    ProjectionCheckpoint.objects.update(tx_id=0, position=0)
    assert catch_up() == {p.name: count for p in order_projections()}  # read everything again
    assert all_states() == before
    for p in order_projections():
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, 2 * count, count)  # nothing re-applied

    middle = log[len(log) // 2]
    ProjectionCheckpoint.objects.update(tx_id=middle.tx_id, position=middle.position)
    assert catch_up() == {p.name: len(log) - len(log) // 2 - 1 for p in order_projections()}
    assert all_states() == before
    assert {at(checkpoint(p.name)) for p in order_projections()} == {last}


# -- 3. rebuild == live -----------------------------------------------------------------------


def check_against_the_domain(log) -> None:
    """The live read models agree with the aggregates and with each other."""
    repo = OrderRepository()
    order_rows = rows("order_list")
    lines: dict = {}
    for r in rows("order_lines", order_by="order_id, line_no"):
        lines.setdefault(r["order_id"], []).append((r["sku"], r["quantity"], r["price_cents"]))
    assert len(order_rows) == sum(1 for e in log if e.event_type == "OrderPlaced")
    for row in order_rows:
        order = repo.get(row["order_id"]).state()
        assert (row["status"], row["total_cents"], row["version"], row["customer_id"]) == (
            order["status"],
            order["total_cents"],
            order["version"],
            order["customer_id"],
        )
        assert sorted(lines[row["order_id"]]) == sorted(
            (i["sku"], i["quantity"], i["price_cents"]) for i in order["items"]
        )
        assert row["line_count"] == len(order["items"])
        assert row["item_count"] == sum(i["quantity"] for i in order["items"])

    customers: dict = {}
    for row in order_rows:
        c = customers.setdefault(row["customer_id"], {"placed": 0, "shipped": 0, "cancelled": 0, "value": 0})
        c[row["status"]] += 1
        c["value"] += row["total_cents"] if row["status"] != "cancelled" else 0
    assert {
        r["customer_id"]: {
            "placed": r["orders_open"],
            "shipped": r["orders_shipped"],
            "cancelled": r["orders_cancelled"],
            "value": r["lifetime_total_cents"],
        }
        for r in rows("customer_summary")
    } == customers
    assert all(
        r["orders_placed"] == r["orders_open"] + r["orders_shipped"] + r["orders_cancelled"]
        for r in rows("customer_summary")
    )

    days: dict = {}

    def day(when):
        return days.setdefault(
            when.date(), {"placed": 0, "shipped": 0, "cancelled": 0, "booked": 0, "revenue": 0}
        )

    for e in log:
        if e.event_type == "OrderPlaced":
            day(e.created_at)["booked"] += e.data["total_cents"]
    for row in order_rows:
        day(row["placed_at"])["placed"] += 1
        if row["shipped_at"]:
            day(row["shipped_at"])["shipped"] += 1
            day(row["shipped_at"])["revenue"] += row["total_cents"]
        if row["cancelled_at"]:
            day(row["cancelled_at"])["cancelled"] += 1
    assert {
        r["day"]: {
            "placed": r["orders_placed"],
            "shipped": r["orders_shipped"],
            "cancelled": r["orders_cancelled"],
            "booked": r["booked_cents"],
            "revenue": r["revenue_cents"],
        }
        for r in rows("daily_sales")
    } == days


def test_a_rebuild_of_every_projection_equals_the_live_tables_for_thousands_of_random_orders(
    clock, monkeypatch
):
    Workload(20250301, clock).orders(2000)
    catch_up()
    log = events()
    last, count = head()
    assert len(log) == count > 4000
    check_against_the_domain(log)
    live, live_indexes, oids = all_states(), indexes(ALL_TABLES), table_oids(ALL_TABLES)
    assert len({r["day"] for r in live["daily_sales"]["daily_sales"]}) > 30

    # Damage the live tables: only a real rebuild from the log restores them.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM order_lines WHERE line_no = 1")
        cursor.execute("UPDATE order_list SET status = 'placed', total_cents = 0")
        cursor.execute("DELETE FROM customer_summary_orders")
        cursor.execute("UPDATE customer_summary SET lifetime_total_cents = -1")
        cursor.execute("UPDATE daily_sales SET revenue_cents = 0")
        cursor.execute("DELETE FROM daily_sales_orders")
    assert all_states() != live

    for p in order_projections():
        result = rebuilt(p)
        assert (result.events, result.applied, result.checkpoint) == (count, count, last)
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, count)
        assert state(p) == live[p.name], p.name
    assert indexes(ALL_TABLES) == live_indexes  # same names, same definitions
    new_oids = table_oids(ALL_TABLES)
    assert all(new_oids[t] != oids[t] for t in ALL_TABLES)  # swapped in, not patched up
    assert not table_oids([f"{t}{rebuild.SUFFIX}" for t in ALL_TABLES])  # no shadow left behind
    assert catch_up() == {p.name: 0 for p in order_projections()}

    # Once more, all in one pass, the rebuild's row cache written out and read
    # back after every batch (as on a log too long to keep in memory).
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 300)
    monkeypatch.setattr(BufferedTables, "maybe_flush", BufferedTables.flush)
    result = rebuilt(order_projections())
    assert (result.events, result.applied, result.checkpoint) == (count, 3 * count, last)
    assert all_states() == live
    assert indexes(ALL_TABLES) == live_indexes


# -- 4. rebuild while commands keep arriving ----------------------------------------------


def test_a_rebuild_while_commands_keep_arriving_ends_equal_to_a_fresh_rebuild(monkeypatch, run_in_threads):
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 100)  # many batches, so the writer overlaps them
    Workload(41).orders(500)
    catch_up()
    index_names = indexes(ALL_TABLES)
    writing, stop = threading.Event(), threading.Event()
    writer = Workload(42)
    during: dict = {}

    def write():
        while not stop.is_set():
            writer.step()
            if writer.commands == 20:
                writing.set()
        return writer.commands

    def run_live():
        runs = 0
        while not stop.is_set():
            runner.run_all()
            runs += 1
            time.sleep(0.005)
        return runs

    real_swap = rebuild._swap

    def swap(cursor, live, shadow):
        if "live_at_swap" not in during:  # the live checkpoints the swap replaces (runners are locked out)
            rebuilt = ProjectionCheckpoint.objects.filter(name__in=ORDER_READ_MODELS)
            during["live_at_swap"] = max(at(cp) for cp in rebuilt)
        real_swap(cursor, live, shadow)

    monkeypatch.setattr(rebuild, "_swap", swap)

    def rebuild_all():
        try:
            assert writing.wait(30)
            during["before"] = writer.commands
            during["result"] = rebuild.rebuild(order_projections())
            during["after"] = writer.commands
        finally:
            stop.set()

    commands_sent, live_runs, _ = run_in_threads(write, run_live, rebuild_all)
    assert during["after"] > during["before"]  # commands did arrive while it rebuilt
    assert live_runs > 0 and commands_sent > 20
    # what is swapped in is never older than what it replaces
    assert during["result"].checkpoint >= during["live_at_swap"]

    catch_up()
    last, count = head()
    for p in order_projections():
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, count), p.name
    live = all_states()
    for p in order_projections():
        rebuilt(p)
    assert all_states() == live
    assert indexes(ALL_TABLES) == index_names


# -- 5. poison events ------------------------------------------------------------------------


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


@pytest.fixture
def poisoned(break_projection, clock):
    """daily_sales cannot apply the events of one order; the others can.
    The log: ok, BAD placed, ok, ok."""
    p = SimpleNamespace()
    p.first = place("alice", ("WIDGET-A", 1))
    p.bad = place("mallory", ("NUT-8", 3))
    add(p.first.order_id, "BOLT-7", 2)
    place("bob", ("PIPE-3", 1))
    p.fix = break_projection("daily_sales", p.bad.order_id)
    p.log = events()
    index = next(i for i, e in enumerate(p.log) if e.aggregate_id == p.bad.order_id)
    p.poison, p.before = p.log[index], p.log[index - 1]
    catch_up()
    return p


def fail_until_held(monkeypatch) -> None:
    """No waiting between attempts: run until the projection is held."""
    monkeypatch.setattr(failures, "backoff", lambda attempts: timedelta(0))
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    for _ in range(failures.MAX_ATTEMPTS + 2):
        catch_up()


def test_a_poison_event_is_recorded_and_stops_only_its_projection_just_before_it(poisoned):
    p = poisoned
    [failure] = ProjectionFailure.objects.all()
    assert (failure.projection, failure.position, failure.tx_id) == (
        "daily_sales",
        p.poison.position,
        p.poison.tx_id,
    )
    assert (failure.event_type, failure.aggregate_id, failure.attempts) == ("OrderPlaced", p.bad.order_id, 1)
    assert failure.error == f"RuntimeError: cannot project order {p.bad.order_id}"
    assert "Traceback" in failure.traceback and "RuntimeError: cannot project order" in failure.traceback
    assert failure.resolved_at is None and failure.next_attempt_at > timezone.now()

    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert checkpoint("daily_sales").events_seen == 1
    assert [r["order_id"] for r in rows("daily_sales_orders")] == [p.first.order_id]  # kept what came before

    last, count = head()
    for name in ("order_list", "customer_summary"):
        assert (at(checkpoint(name)), checkpoint(name).events_seen) == (last, count)
    assert p.bad.order_id in {r["order_id"] for r in rows("order_list")}

    s = status_of("daily_sales")
    assert (s["state"], s["lag_events"]) == ("retrying", count - 1)
    assert s["failures"][0]["position"] == p.poison.position


def test_a_failing_event_is_retried_after_its_backoff_and_then_held_while_the_others_go_on(
    poisoned, monkeypatch
):
    p = poisoned
    catch_up()  # inside the backoff: no new attempt
    assert ProjectionFailure.objects.get().attempts == 1

    fail_until_held(monkeypatch)
    failure = ProjectionFailure.objects.get()
    assert failure.attempts == failures.MAX_ATTEMPTS  # held: no attempts beyond the limit
    assert status_of("daily_sales")["state"] == "held"
    assert batches.run_batch(registry.get("daily_sales")).held

    later = place("dave", ("LAMP-9", 1))
    catch_up()
    last, _ = head()
    assert at(checkpoint("order_list")) == at(checkpoint("customer_summary")) == last
    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert later.order_id in {r["order_id"] for r in rows("customer_summary_orders")}


def test_a_projection_due_to_retry_its_poison_event_does_not_hold_the_others_back(poisoned):
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))  # retry is due
    later = place("dave", ("LAMP-9", 1))
    catch_up()
    assert ProjectionFailure.objects.get().attempts == 2  # daily_sales tried again, and failed again
    assert at(checkpoint("daily_sales")) == poisoned.before.global_position
    assert at(checkpoint("order_list")) == at(checkpoint("customer_summary")) == head()[0]
    assert later.order_id in {r["order_id"] for r in rows("order_list")}


def test_after_the_fix_an_operator_retry_resumes_at_the_poison_event_and_equals_a_rebuild(
    poisoned, monkeypatch
):
    p = poisoned
    fail_until_held(monkeypatch)
    add(p.bad.order_id, "NUT-8", 1)  # more for the poisoned order while held
    p.fix()

    catch_up()
    assert status_of("daily_sales")["state"] == "held"  # fixed code alone does not release it

    released = failures.retry("daily_sales", by="ops-alice")
    assert (released.resolution, released.resolved_by) == ("retried", "ops-alice")
    assert released.resolved_at is not None
    catch_up()
    last, count = head()
    cp = checkpoint("daily_sales")
    assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, count)  # each event once
    assert status_of("daily_sales")["state"] == "running"
    assert failures.open_failure("daily_sales") is None

    live = state(registry.get("daily_sales"))
    assert {r["order_id"]: r["total_cents"] for r in live["daily_sales_orders"]}[p.bad.order_id] == 40
    rebuilt(registry.get("daily_sales"))
    assert state(registry.get("daily_sales")) == live


def test_a_retry_after_the_backoff_that_succeeds_resolves_the_failure_by_the_runner(poisoned):
    poisoned.fix()
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    catch_up()
    failure = ProjectionFailure.objects.get()
    assert (failure.resolution, failure.resolved_by, failure.attempts) == ("retried", "runner", 1)
    assert at(checkpoint("daily_sales")) == head()[0]


def test_skipping_the_poison_event_moves_past_it_and_records_who_did_it(poisoned, monkeypatch):
    p = poisoned
    fail_until_held(monkeypatch)

    skipped = failures.skip("daily_sales", p.poison.position, by="ops-bob")
    assert (skipped.resolution, skipped.resolved_by, skipped.position) == (
        "skipped",
        "ops-bob",
        p.poison.position,
    )
    stored = ProjectionFailure.objects.get()
    assert (stored.resolution, stored.resolved_by) == ("skipped", "ops-bob") and stored.resolved_at
    assert at(checkpoint("daily_sales")) == p.poison.global_position

    p.fix()
    catch_up()
    assert at(checkpoint("daily_sales")) == head()[0]
    assert status_of("daily_sales")["state"] == "running"
    sales = state(registry.get("daily_sales"))
    assert p.bad.order_id not in {r["order_id"] for r in sales["daily_sales_orders"]}
    assert len(sales["daily_sales_orders"]) == 2
    [day] = sales["daily_sales"]
    assert (day["orders_placed"], day["booked_cents"]) == (2, 1999 + 700)


def test_skipping_a_position_the_projection_is_not_held_at_is_refused(poisoned, monkeypatch):
    p = poisoned
    with pytest.raises(failures.SkipError):
        failures.skip("order_list", p.poison.position, by="ops")  # not held at all
    fail_until_held(monkeypatch)
    with pytest.raises(failures.SkipError):
        failures.skip("daily_sales", p.before.position, by="ops")
    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert ProjectionFailure.objects.get().resolved_at is None
    assert status_of("daily_sales")["state"] == "held"


# -- 6. concurrent runners --------------------------------------------------------------------


def test_two_runners_on_the_same_projections_apply_every_event_exactly_once(settings, run_in_threads):
    settings.PROJECTION_BATCH_SIZE = 15
    Workload(61).orders(60)
    checkpoints.ensure()
    stop = threading.Event()

    def write():
        try:
            Workload(62).orders(150)
        finally:
            stop.set()

    def run():
        read = dict.fromkeys((p.name for p in order_projections()), 0)
        while True:
            last_round = stop.is_set()
            for p in order_projections():
                read[p.name] += runner.run_projection(p)
            if last_round:
                return read
            time.sleep(0.001)

    _, first, second = run_in_threads(write, run, run)
    final = catch_up()
    last, count = head()
    assert sum(first.values()) > 0 and sum(second.values()) > 0  # both did work
    for p in order_projections():
        assert first[p.name] + second[p.name] + final[p.name] == count, p.name
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, count), p.name
    live = all_states()
    for p in order_projections():
        rebuilt(p)
    assert all_states() == live


def test_a_run_that_finds_a_projection_held_by_another_runner_queues_a_second_look(settings, monkeypatch):
    """The other runner may have read the log before the commit that sent
    this nudge and stop there: the task waits for it a moment, and if it
    keeps the projection, asks for another run later, once."""
    import redis

    from projections import nudge, tasks

    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (make test sets it)")
    place("cust_busy", ("WIDGET-A", 1))
    readable()
    settings.REDIS_URL = os.environ["REDIS_URL"]
    monkey = redis.Redis.from_url(settings.REDIS_URL)
    from config.celery import app

    assert app.conf.broker_url == settings.REDIS_URL  # the broker: the same server
    queue = app.conf.task_default_queue
    monkey.delete(nudge.NUDGE_KEY, queue)
    nudge._redis = None
    monkeypatch.setattr(tasks, "BUSY_WAIT_SECONDS", 0.1)
    with ExitStack() as stack:
        holder = stack.enter_context(other_connection(autocommit=True))
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("daily_sales")])
        busy: set[str] = set()
        runner.run_all(busy=busy)
        assert busy == {"daily_sales"}
        assert checkpoint("daily_sales").events_seen == 0  # not advanced by this run
        assert checkpoint("order_list").events_seen == head()[1]  # the others were

        tasks.run_projections()  # what the worker runs on a nudge
        assert monkey.exists(nudge.NUDGE_KEY)  # a second look is pending...
        assert monkey.llen(queue) == 1  # ...as one queued task
        nudge.nudge_later(0.1)  # more nudges meanwhile do not queue more runs
        nudge._send()
        assert monkey.llen(queue) == 1
        monkey.lpop(queue)  # the worker takes it: still held, so it asks again
        tasks.run_projections()
        assert monkey.llen(queue) == 1
        holder.execute("ROLLBACK")
    monkey.delete(nudge.NUDGE_KEY, queue)

    # Let go while the task waits: it does the work itself, nothing is queued.
    place("cust_busy", ("WIDGET-A", 2))
    readable()
    monkeypatch.setattr(tasks, "BUSY_WAIT_SECONDS", 10)
    with other_connection(autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("daily_sales")])
        threading.Timer(0.3, holder.execute, ["ROLLBACK"]).start()
        counts = tasks.run_projections()
    assert counts["daily_sales"] == head()[1]  # both orders' events, once it could
    assert checkpoint("daily_sales").events_seen == head()[1]
    assert monkey.llen(queue) == 0
    monkey.delete(nudge.NUDGE_KEY, queue)
    nudge._redis = None


# -- 7. inline consistency ---------------------------------------------------------------------


@pytest.fixture
def inline_order_list(settings):
    """order_list inline, as ProjectionsConfig.ready() sets it up when
    PROJECTION_CONSISTENCY names it at start-up."""
    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    settings.PROJECTIONS_MODE = "off"
    added = inline.apply_inline not in hooks.append_listeners
    if added:
        hooks.append_listeners.append(inline.apply_inline)
    yield registry.get("order_list")
    if added:
        hooks.append_listeners.remove(inline.apply_inline)


def order_row(order_id):
    found = [r for r in rows("order_list") if r["order_id"] == order_id]
    return found[0] if found else None


def test_an_inline_read_model_has_the_change_when_the_command_returns(inline_order_list, run_in_threads):
    assert registry.get("order_list").consistency == "inline"
    placed = place("erin", ("WIDGET-A", 2))
    # committed: another connection sees it at once
    [seen] = run_in_threads(lambda: order_row(placed.order_id))
    assert (seen["status"], seen["total_cents"], seen["version"], seen["last_position"]) == (
        "placed",
        3998,
        1,
        placed.position,
    )
    added = add(placed.order_id, "BOLT-7", 4)
    row = order_row(placed.order_id)
    assert (row["total_cents"], row["item_count"], row["version"], row["last_position"]) == (
        4098,
        6,
        2,
        added.position,
    )
    assert rows("customer_summary") == [] and rows("daily_sales") == []  # the async ones did not run

    catch_up()  # passes over the same events: nothing left to apply for order_list
    cp = checkpoint("order_list")
    assert (cp.events_seen, cp.events_applied) == (2, 0)
    assert checkpoint("customer_summary").events_applied == 2
    live = state(inline_order_list)
    rebuilt(inline_order_list)
    assert state(inline_order_list) == live


def test_a_failing_inline_projection_fails_the_command_and_appends_nothing(
    inline_order_list, break_projection
):
    order_id = uuid.uuid4()
    break_projection("order_list", order_id)
    with pytest.raises(RuntimeError, match="cannot project"):
        commands.execute(commands.PlaceOrder("frank", (Line("WIDGET-A", 1, 1999),), order_id=order_id))
    assert EventStore().load(order_id) == []
    assert rows("order_list") == []


def test_rebuilding_an_inline_projection_keeps_a_command_committed_during_the_swap(
    inline_order_list, monkeypatch
):
    """A command arriving during the rebuild's final swap waits for it (the
    inline write takes the projection's lock in shared mode) and then writes
    into the new tables."""
    placed = place("gina", ("WIDGET-A", 1))
    real_swap = rebuild._swap
    outcome: list = []

    def concurrent_add():
        try:
            outcome.append(add(placed.order_id, "BOLT-7", 2))
        except BaseException as exc:  # reported below
            outcome.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=concurrent_add)

    def swap(cursor, live, shadow):
        if not worker.is_alive() and not outcome:
            worker.start()
            # Wait until the command is blocked on the projection's lock.
            deadline = time.monotonic() + 20
            while True:
                cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cursor.fetchone()[0] or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        real_swap(cursor, live, shadow)

    monkeypatch.setattr(rebuild, "_swap", swap)
    rebuilt(inline_order_list)
    worker.join(30)
    assert not isinstance(outcome[0], BaseException), outcome[0]
    assert outcome[0].version == 2
    row = order_row(placed.order_id)
    assert (row["version"], row["line_count"]) == (2, 2)

    nxt = add(placed.order_id, "NUT-8", 1)
    row = order_row(placed.order_id)
    assert (row["version"], row["total_cents"], row["last_position"]) == (3, 1999 + 50 + 10, nxt.position)

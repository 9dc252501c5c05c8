"""The set-based rebuild of the order read models (projections/set_based.py,
order_rebuild_sql.py) held equal to their Python folds: over varied
histories made by the real commands (and the fulfilment process), a random
workload, a log with events at older schema versions, and streams the SQL
must not fold, the live tables, a rebuild in SQL and a rebuild through the
Python folds hold the same rows; and each test checks which path ran."""

import dataclasses
import gc
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection

from eventstore import EventStore, NewEvent
from eventstore.cut import readable_cut
from orders import commands
from orders.domain.shipping import Contact, ShippingAddress
from projections import rebuild, runner, set_based
from projections.base import ProjectionError
from projections.models import ProjectionCheckpoint
from projections.tables import BufferedTables
from tests.integration.projections.support import (
    ALL_TABLES,
    ORDER_READ_MODELS,
    PRICES,
    Workload,
    add_at_list_price,
    cancel,
    order_projections,
    place_at_list_prices,
    readable,
    remove,
    rows,
    ship,
    table_oids,
)
from tests.support import old_store, run_until_no_new_events, stock_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# -- the live tables, the two rebuilds, and which path ran --------------------------------


def live() -> dict[str, dict[str, list[tuple]]]:
    """Catch the three order read models up (not the fulfilment process: a
    test runs that itself, see settle_fulfilment) and snapshot them."""
    readable()
    for projection in order_projections():
        runner.run_projection(projection)
    return snapshots()


def snapshots() -> dict[str, dict[str, list[tuple]]]:
    return {p.name: rebuild.snapshot(p) for p in order_projections()}


def checkpoint_rows() -> list[tuple]:
    return sorted(
        ProjectionCheckpoint.objects.filter(name__in=ORDER_READ_MODELS).values_list(
            "name", "tx_id", "position", "events_seen", "events_applied"
        )
    )


class Paths:
    """Spies on set_based: which projections it built in SQL, which it
    handed back to the Python fold, and the streams it replayed in Python."""

    def __init__(self, monkeypatch):
        self.built: list[str] = []
        self.handed_back: list[str] = []
        self.replayed: dict[str, set[uuid.UUID]] = {}
        real_build, real_replay = set_based.build, set_based._replay

        def build(projections, *args):
            applied, handed_back = real_build(projections, *args)
            self.built += [p.name for p in projections if p not in handed_back]
            self.handed_back += [p.name for p in handed_back]
            return applied, handed_back

        def replay(conn, projection, *args):
            # Once for each slice of the streams that has some to replay.
            found = {r[0] for r in conn.execute("SELECT id FROM rebuild_replay")}
            self.replayed.setdefault(projection.name, set()).update(found)
            return real_replay(conn, projection, *args)

        monkeypatch.setattr(set_based, "build", build)
        monkeypatch.setattr(set_based, "_replay", replay)

    def reset(self) -> None:
        self.built, self.handed_back, self.replayed = [], [], {}


def rebuild_both_ways(paths: Paths):
    """Rebuild the three read models in SQL, snapshot; rebuild them through
    the Python folds, snapshot. The two snapshots, and what the SQL rebuild's
    spies saw (the Python one must not touch set_based)."""
    readable()
    paths.reset()
    in_sql = rebuild.rebuild(order_projections(), in_sql=True)
    sql_rows, sql_checkpoints = snapshots(), checkpoint_rows()
    seen = (sorted(paths.built), sorted(paths.handed_back), paths.replayed)
    paths.reset()
    in_python = rebuild.rebuild(order_projections(), in_sql=False)
    assert (paths.built, paths.handed_back, paths.replayed) == ([], [], {})
    assert (in_sql.events, in_sql.applied, in_sql.checkpoint) == (
        in_python.events,
        in_python.applied,
        in_python.checkpoint,
    )
    assert sql_checkpoints == checkpoint_rows()
    return sql_rows, snapshots(), seen


def differences(a: dict, b: dict) -> dict:
    """Per table, the rows only in ``a`` and only in ``b`` (for a readable failure)."""
    out = {}
    for name in a:
        for table in a[name]:
            left, right = set(a[name][table]), set(b[name][table])
            if left != right:
                out[table] = {"only_left": sorted(left - right), "only_right": sorted(right - left)}
    return out


def assert_same(sql_rows, python_rows, live_rows) -> None:
    assert differences(sql_rows, python_rows) == {}, "SQL rebuild vs Python rebuild"
    assert differences(sql_rows, live_rows) == {}, "SQL rebuild vs live"
    assert sql_rows == python_rows == live_rows


def streams_with_a_removal_before_an_addition() -> set[uuid.UUID]:
    """The orders whose line numbers the SQL leaves to the Python fold (computed
    here from the log, not by the SQL under test)."""
    first_removal: dict = {}
    last_addition: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT aggregate_id, event_type, version FROM events"
            " WHERE event_type IN ('ItemRemoved', 'ItemAdded') ORDER BY version"
        )
        for oid, event_type, version in cursor.fetchall():
            if event_type == "ItemRemoved":
                first_removal.setdefault(oid, version)
            else:
                last_addition[oid] = version
    return {oid for oid, v in first_removal.items() if oid in last_addition and v < last_addition[oid]}


# -- commands -----------------------------------------------------------------------------------


def run(command) -> commands.CommandResult:
    return commands.execute(command)


def receive(sku: str, quantity: int) -> None:
    stock_catalogue([(sku, quantity, PRICES[sku])])
    run(commands.ReceiveStock(sku, quantity))


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lines_of(order_id) -> dict[str, tuple]:
    """sku -> (line_no, quantity, status, rejected_quantity) of the live order_lines."""
    return {
        r["sku"]: (r["line_no"], r["quantity"], r["status"], r["rejected_quantity"])
        for r in rows("order_lines")
        if r["order_id"] == order_id
    }


# -- 1. varied histories through the commands ------------------------------------------------------


def test_varied_histories_rebuild_in_sql_equal_to_the_python_folds_and_the_live_tables(
    clock, settings, monkeypatch
):
    paths = Paths(monkeypatch)
    settings.OUT_OF_STOCK_POLICY = "reject_line"

    # 1 March: an order that grows and shrinks; it ships on the 2nd with a carrier and a tracking number.
    clock.now = when("2025-03-01 08:00:00")
    grows = place_at_list_prices("cust_a", ("WIDGET-A", 2), ("GADGET-B", 1)).order_id
    clock.now = when("2025-03-01 09:15:00.000123")
    add_at_list_price(grows, "BOLT-7", 3)  # a new SKU
    add_at_list_price(grows, "WIDGET-A", 1)  # more of a line on the order
    run(commands.ChangeLineQuantity(grows, "GADGET-B", 4))  # up
    run(commands.ChangeLineQuantity(grows, "BOLT-7", 1))  # down
    run(commands.AddNote(grows, "gift wrap"))
    # A line at an overridden price, then more of it at the line's price.
    stock_catalogue([("LAMP-9", 1, PRICES["LAMP-9"])])
    run(commands.AddItem(grows, "LAMP-9", 1, 4000, "loyal customer"))
    run(commands.AddItem(grows, "LAMP-9", 2))

    # 1 March, the last microsecond: lines rejected in part and whole, without a
    # confirmation (the command, as the fulfilment process would send it).
    clock.now = when("2025-03-01 23:59:59.999999")
    rejects = place_at_list_prices("cust_b", ("PIPE-3", 5), ("CABLE-X", 2), ("LAMP-9", 1)).order_id
    clock.now = when("2025-03-02 00:00:00")
    run(commands.RejectLine(rejects, "PIPE-3", 2, "damaged in the warehouse"))  # in part: 3 left
    add_at_list_price(rejects, "PIPE-3", 1)  # joins the partly rejected line: 4
    run(commands.RejectLine(rejects, "CABLE-X", 5, "discontinued by the maker"))  # whole (5 > 2)
    clock.now = when("2025-03-02 10:30:00.5")
    add_at_list_price(rejects, "CABLE-X", 3)  # the wholly rejected SKU again: a new line
    run(commands.RejectLine(rejects, "PIPE-3", 4, "flooded"))  # the rest of a partly rejected line
    run(commands.ChangeLineQuantity(rejects, "CABLE-X", 2))
    clock.now = when("2025-03-02 23:59:59.999999")
    ship(rejects)  # no carrier, no tracking number

    clock.now = when("2025-03-02 12:00:00")
    ship(grows, "DHL", "JD0001")
    run(commands.AddNote(grows, "delivered"))  # a note on a shipped order

    # A line number used again: the last line removed, then a new SKU added
    # (and a removed SKU added back), then cancelled on another day.
    clock.now = when("2025-03-01 14:00:00")
    reuse = place_at_list_prices("cust_a", ("NUT-8", 1), ("BOLT-7", 2), ("FREE-0", 1)).order_id
    remove(reuse, "FREE-0")
    add_at_list_price(reuse, "LAMP-9", 1)
    remove(reuse, "BOLT-7")
    add_at_list_price(reuse, "BOLT-7", 5)
    clock.now = when("2025-03-03 00:00:00")
    cancel(reuse, "customer changed their mind")

    # Contact and shipping address (personal data) given and changed; cancelled.
    clock.now = when("2025-03-02 07:00:00")
    stock_catalogue([("NUT-8", 1, PRICES["NUT-8"])])
    addressed = run(
        commands.PlaceOrder(
            "cust_c",
            (("NUT-8", 7),),
            contact=Contact("Ada Lovelace", "ada@example.com"),
            shipping_address=ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB"),
        )
    ).order_id
    run(
        commands.ChangeShippingAddress(
            addressed, ShippingAddress("1 Rue de la Paix", "bis", "75002", "Paris", "FR")
        )
    )
    run(commands.ChangeLineQuantity(addressed, "NUT-8", 9))
    cancel(addressed, "fraud check failed")

    # A clock that goes back: placed after cust_a's other orders but stamped
    # before them, each event stamped before the one it follows.
    clock.now = when("2025-03-01 06:00:00")
    skewed = place_at_list_prices("cust_a", ("GADGET-B", 2), ("BOLT-7", 4)).order_id
    clock.now = when("2025-02-28 23:30:00")
    run(commands.ChangeLineQuantity(skewed, "BOLT-7", 6))
    clock.now = when("2025-02-28 22:00:00.25")
    run(commands.RejectLine(skewed, "GADGET-B", 1, "dented"))
    clock.now = when("2025-02-28 21:00:00")
    ship(skewed, None, "TRACK-ONLY")

    # Orders that wait for stock, through the real fulfilment process.
    settings.INVENTORY_RESERVATION = True
    clock.now = when("2025-03-02 15:00:00")
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1)
    stock_catalogue([("PIPE-3", 1, PRICES["PIPE-3"])])  # sold, never in stock
    waits = place_at_list_prices("cust_b", ("WIDGET-A", 3), ("GADGET-B", 2), ("PIPE-3", 1)).order_id
    run_until_no_new_events()  # GADGET-B and PIPE-3 rejected whole, WIDGET-A reserved: confirmed
    clock.now = when("2025-03-03 09:00:00")
    run(commands.ChangeLineQuantity(waits, "WIDGET-A", 15))  # 12 more, 7 available: rejected in part
    run_until_no_new_events()
    add_at_list_price(waits, "GADGET-B", 1)  # the rejected SKU again; 1 available: reserved
    run_until_no_new_events()
    run(commands.ChangeLineQuantity(waits, "WIDGET-A", 2))  # down: no wait
    run_until_no_new_events()
    clock.now = when("2025-03-03 18:00:00")
    ship(waits, "UPS", None)

    nothing_to_reserve = place_at_list_prices("cust_d", ("CABLE-X", 2)).order_id  # never in stock
    confirmed_then_grows = place_at_list_prices("cust_d", ("WIDGET-A", 1)).order_id
    shrinks = place_at_list_prices("cust_d", ("WIDGET-A", 3)).order_id
    run_until_no_new_events()
    # From here on the process is not run: what the read models show of orders waiting.
    clock.now = when("2025-03-04 01:00:00")
    add_at_list_price(confirmed_then_grows, "WIDGET-A", 1)  # waits again
    run(commands.ChangeLineQuantity(shrinks, "WIDGET-A", 1))  # fewer units wait for nothing: confirmed
    never_confirmed = place_at_list_prices("cust_d", ("GADGET-B", 1)).order_id
    run(commands.ChangeLineQuantity(never_confirmed, "GADGET-B", 3))

    live_rows = live()
    # The histories are what this test means them to be.
    statuses = {r["order_id"]: r["status"] for r in rows("order_list")}
    assert statuses == {
        grows: "shipped",
        rejects: "shipped",
        reuse: "cancelled",
        addressed: "cancelled",
        waits: "shipped",
        nothing_to_reserve: "cancelled",
        confirmed_then_grows: "placed",
        never_confirmed: "placed",
        skewed: "shipped",
        shrinks: "confirmed",
    }
    assert lines_of(rejects) == {
        "PIPE-3": (1, 0, "rejected", 6),
        "CABLE-X": (4, 2, "active", 0),
        "LAMP-9": (3, 1, "active", 0),
    }
    # The Python fold numbers a new line after the highest left: LAMP-9 takes FREE-0's 3.
    assert lines_of(reuse) == {
        "NUT-8": (1, 1, "active", 0),
        "LAMP-9": (3, 1, "active", 0),
        "BOLT-7": (4, 5, "active", 0),
    }
    assert lines_of(waits) == {
        "WIDGET-A": (1, 2, "active", 12),
        "GADGET-B": (4, 1, "active", 0),
        "PIPE-3": (3, 0, "rejected", 1),
    }
    assert len(live_rows["daily_sales"]["daily_sales"]) == 5  # 28 February to 4 March

    sql_rows, python_rows, (built, handed_back, replayed) = rebuild_both_ways(paths)
    assert (built, handed_back) == (sorted(ORDER_READ_MODELS), [])
    assert replayed == {"order_list": {reuse}} == {"order_list": streams_with_a_removal_before_an_addition()}
    assert_same(sql_rows, python_rows, live_rows)


# -- 2. a random workload -----------------------------------------------------------------------

ORDER_EVENT_KINDS = (  # each occurs often in the workload below
    "OrderPlaced",
    "ItemAdded",
    "ItemRemoved",
    "LineQuantityChanged",
    "LineRejected",
    "NoteAdded",
    "OrderConfirmed",
    "OrderShipped",
    "OrderCancelled",
)


class MixedWorkload(Workload):
    """Workload's commands and more: orders that wait for stock (confirmed by
    the command; no fulfilment process runs), quantities changed up and down,
    lines rejected in part and whole, notes."""

    def __init__(self, seed: int, clock, settings):
        super().__init__(seed, clock)
        self.settings = settings
        self.lines: dict[uuid.UUID, dict[str, int]] = {}  # open orders' lines, as the aggregate has them
        self.needs_confirmation: set[uuid.UUID] = set()
        self.waiting: set[uuid.UUID] = set()  # needs confirmation, and not confirmed since it grew

    def step(self) -> None:
        rng = self.rng
        self.clock.now += timedelta(minutes=rng.randint(1, 50), microseconds=rng.randint(0, 999_999))
        self.commands += 1
        if not self.lines or rng.random() < 0.3:
            confirm = rng.random() < 0.5
            self.settings.INVENTORY_RESERVATION = confirm
            items = {s: rng.randint(1, 5) for s in rng.sample(sorted(PRICES), rng.randint(1, 3))}
            oid = place_at_list_prices(rng.choice(self.customers), *items.items()).order_id
            self.lines[oid] = items
            if confirm:
                self.needs_confirmation.add(oid)
                self.waiting.add(oid)
            self.placed += 1
            return
        oid = rng.choice(list(self.lines))
        lines = self.lines[oid]
        sku = rng.choice(sorted(lines))
        roll = rng.random()
        if roll < 0.25:
            sku = rng.choice(sorted(PRICES))
            quantity = rng.randint(1, 4)
            add_at_list_price(oid, sku, quantity)
            lines[sku] = lines.get(sku, 0) + quantity
            self._grew(oid)
        elif roll < 0.35 and len(lines) > 1:
            remove(oid, sku)
            del lines[sku]
        elif roll < 0.5:
            quantity = rng.choice([q for q in range(1, 8) if q != lines[sku]])
            run(commands.ChangeLineQuantity(oid, sku, quantity))
            if quantity > lines[sku]:
                self._grew(oid)
            lines[sku] = quantity
        elif roll < 0.62 and (len(lines) > 1 or lines[sku] > 1):
            whole = lines[sku] == 1 or (len(lines) > 1 and rng.random() < 0.5)
            quantity = lines[sku] + rng.randint(0, 2) if whole else rng.randint(1, lines[sku] - 1)
            run(commands.RejectLine(oid, sku, quantity, rng.choice(["out of stock", "damaged"])))
            lines[sku] -= min(quantity, lines[sku])
            if not lines[sku]:
                del lines[sku]
        elif roll < 0.68:
            run(commands.AddNote(oid, f"note {self.commands}"))
        elif roll < 0.76:
            run(commands.ConfirmOrder(oid))
            self.waiting.discard(oid)
        elif roll < 0.9:
            if oid in self.waiting:
                run(commands.ConfirmOrder(oid))
                self.waiting.discard(oid)
            ship(oid, *rng.choice([("DHL", f"JD{self.commands:06d}"), (None, None), ("UPS", None)]))
            del self.lines[oid]
        else:
            cancel(oid, rng.choice(["changed mind", "out of stock", "duplicate"]))
            del self.lines[oid]

    def _grew(self, oid) -> None:
        if oid in self.needs_confirmation:
            self.waiting.add(oid)


def test_a_random_workload_rebuilds_in_sql_equal_to_the_python_folds_and_the_live_tables(
    clock, settings, monkeypatch
):
    paths = Paths(monkeypatch)
    MixedWorkload(20250302, clock, settings).orders(300)
    live_rows = live()
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_type, COUNT(*) FROM events WHERE aggregate_type = 'Order' GROUP BY 1")
        counts = dict(cursor.fetchall())
    # Every kind of order event occurs, and often.
    assert all(counts.get(t, 0) >= 20 for t in ORDER_EVENT_KINDS), counts
    order_statuses = {r["status"] for r in rows("order_list")}
    assert order_statuses == {"placed", "confirmed", "shipped", "cancelled"}
    assert {r["status"] for r in rows("order_lines")} == {"active", "rejected"}

    # The replayed streams (and the Python rebuild) in small batches, their
    # rows written out and read back after each: a stream spans batches.
    monkeypatch.setattr(set_based, "REPLAY_BATCH", 7)
    monkeypatch.setattr(BufferedTables, "maybe_flush", BufferedTables.flush)
    sql_rows, python_rows, (built, handed_back, replayed) = rebuild_both_ways(paths)
    assert (built, handed_back) == (sorted(ORDER_READ_MODELS), [])
    reused = streams_with_a_removal_before_an_addition()
    assert len(reused) >= 5 and replayed == {"order_list": reused}
    assert_same(sql_rows, python_rows, live_rows)


# -- 3. older schema versions: the Python fold ---------------------------------------------------


def test_events_at_older_schema_versions_rebuild_in_sql_unless_it_does_not_read_them(clock, monkeypatch):
    paths = Paths(monkeypatch)
    Workload(20250303, clock).orders(40)
    readable()
    in_sql, rest = set_based.split(order_projections(), readable_cut(), EventStore().registry)
    assert ([p.name for p in in_sql], rest) == ([p.name for p in order_projections()], [])

    line = {"sku": "OLD-1", "quantity": 2, "price_cents": 1234}
    v1 = uuid.uuid4()
    old_store({"OrderPlaced": 1, "ItemAdded": 1}).append(
        "Order",
        v1,
        [
            NewEvent("OrderPlaced", {"customer_id": "c_old", "items": [line], "total_cents": 2468}),
            NewEvent(
                "ItemAdded", {"sku": "OLD-2", "quantity": 1, "price_cents": 99, "order_total_cents": 2567}
            ),
        ],
        0,
    )
    stock_catalogue([("NUT-8", 1, PRICES["NUT-8"])])
    run(commands.AddItem(v1, "NUT-8", 3))
    run(commands.ChangeLineQuantity(v1, "OLD-1", 1))
    ship(v1, "DHL", None)
    v2 = uuid.uuid4()
    placed_v2 = {"customer_id": "c_old", "items": [line], "total_cents": 2468, "requires_confirmation": False}
    old_store({"OrderPlaced": 2, "ItemAdded": 1}).append("Order", v2, [NewEvent("OrderPlaced", placed_v2)], 0)
    remove_later = place_at_list_prices("c_old", ("WIDGET-A", 1), ("BOLT-7", 1)).order_id
    remove(remove_later, "BOLT-7")
    add_at_list_price(remove_later, "NUT-8", 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_type, schema_version FROM events WHERE aggregate_id = ANY(%s) ORDER BY 1, 2",
            [[v1, v2]],
        )
        stored = set(cursor.fetchall())
    assert {("OrderPlaced", 1), ("ItemAdded", 1), ("OrderPlaced", 2), ("ItemAdded", 2)} <= stored

    live_rows = live()
    readable()
    in_sql, rest = set_based.split(order_projections(), readable_cut(), EventStore().registry)
    assert ([p.name for p in in_sql], rest) == ([p.name for p in order_projections()], [])
    old_lines = lines_of(v1)
    assert old_lines["OLD-1"][:2] == (1, 1) and old_lines["NUT-8"][:2] == (3, 3)

    # The SQL reads the older versions as their upcasters make them.
    sql_rows, python_rows, (built, handed_back, replayed) = rebuild_both_ways(paths)
    assert (built, handed_back) == (sorted(ORDER_READ_MODELS), [])
    assert_same(sql_rows, python_rows, live_rows)

    # A version the SQL does not read (say, a newer one than it knows of)
    # hands the read models to the Python folds.
    for projection in order_projections():
        spec = projection.set_based
        versions = {**spec.versions, "OrderPlaced": (3,)}
        monkeypatch.setattr(type(projection), "set_based", dataclasses.replace(spec, versions=versions))
    in_sql, rest = set_based.split(order_projections(), readable_cut(), EventStore().registry)
    assert (in_sql, [p.name for p in rest]) == ([], [p.name for p in order_projections()])
    sql_rows, python_rows, (built, handed_back, replayed) = rebuild_both_ways(paths)
    assert (built, handed_back, replayed) == ([], [], {})  # set_based never ran
    assert_same(sql_rows, python_rows, live_rows)


# -- 4. streams the SQL must not fold ---------------------------------------------------------------


def shadow_tables() -> dict[str, int]:
    return table_oids([f"{t}{rebuild.SUFFIX}" for t in ALL_TABLES])


def append_past(order_id, *events: NewEvent) -> None:
    """Append events to an order's stream after its last one, as no command would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(version) FROM events WHERE aggregate_id = %s", [order_id])
        [(version,)] = cursor.fetchall()
    EventStore().append("Order", order_id, list(events), version)


def added(sku: str, quantity: int, order_total_cents: int) -> NewEvent:
    price = PRICES[sku]
    data = {"sku": sku, "quantity": quantity, "price_cents": price, "order_total_cents": order_total_cents}
    return NewEvent("ItemAdded", {**data, "catalogue_price_cents": price, "override_reason": None})


def failure_of(**options) -> tuple[type, str]:
    """The error a rebuild of the order read models fails with: its type and
    the first line of its message. (The exception itself is not kept: its
    traceback would keep the failed rebuild's log stream, and the open
    transaction under it, alive.)"""
    try:
        rebuild.rebuild(order_projections(), **options)
    except Exception as exc:  # any error: the two paths must raise the same
        return type(exc), str(exc).splitlines()[0]
    finally:
        gc.collect()
    raise AssertionError("the rebuild did not fail")


@pytest.mark.parametrize("anomaly", ["no OrderPlaced", "cancelled after shipped", "shipped twice"])
def test_a_stream_the_python_fold_refuses_fails_the_sql_rebuild_alike_and_changes_nothing(
    clock, monkeypatch, anomaly
):
    paths = Paths(monkeypatch)
    Workload(20250304, clock).orders(30)
    oid = place_at_list_prices("cust_odd", ("WIDGET-A", 2), ("GADGET-B", 1)).order_id
    live_rows = live()
    live_checkpoints, oids = checkpoint_rows(), table_oids(ALL_TABLES)
    clock.now += timedelta(days=1)
    if anomaly == "no OrderPlaced":
        EventStore().append("Order", uuid.uuid4(), [added("WIDGET-A", 1, 1999)], 0)
        expected = (ProjectionError, "ItemAdded v1 for unknown order")
    else:
        ship(oid, "DHL", "JD1")
        if anomaly == "cancelled after shipped":
            append_past(oid, NewEvent("OrderCancelled", {"reason": "too late"}))
        else:
            append_past(oid, NewEvent("OrderShipped", {"carrier": None, "tracking_number": None}))
        # The customer would have -1 open orders: the table refuses it.
        expected = (IntegrityError, "customer_summary_orders_open_check")
    readable()

    in_sql = failure_of(in_sql=True)
    assert (sorted(paths.built), sorted(paths.handed_back)) == ([], sorted(ORDER_READ_MODELS))
    paths.reset()
    in_python = failure_of(in_sql=False)
    assert paths.handed_back == []
    assert in_sql == in_python
    assert issubclass(in_sql[0], expected[0]) and expected[1] in in_sql[1], in_sql

    # The live tables are untouched: the same tables, rows and checkpoints; no shadow left.
    assert snapshots() == live_rows
    assert table_oids(ALL_TABLES) == oids
    assert (checkpoint_rows(), shadow_tables()) == (live_checkpoints, {})


@pytest.mark.parametrize("anomaly", ["a line added after cancelled", "a quantity changed after shipped"])
def test_a_stream_the_sql_cannot_fold_hands_the_rebuild_to_the_python_fold(clock, monkeypatch, anomaly):
    paths = Paths(monkeypatch)
    Workload(20250305, clock).orders(30)
    oid = place_at_list_prices("cust_odd", ("WIDGET-A", 2), ("GADGET-B", 1)).order_id
    total = 2 * PRICES["WIDGET-A"] + PRICES["GADGET-B"]
    clock.now += timedelta(days=1)
    if anomaly == "a line added after cancelled":
        cancel(oid, "changed mind")
        append_past(oid, added("NUT-8", 2, total + 2 * PRICES["NUT-8"]))
    else:
        ship(oid, "DHL", "JD1")
        data = {"sku": "GADGET-B", "old_quantity": 1, "quantity": 3, "price_cents": PRICES["GADGET-B"]}
        append_past(oid, NewEvent("LineQuantityChanged", {**data, "order_total_cents": total + 1000}))
    live_rows = live()

    sql_rows, python_rows, (built, handed_back, replayed) = rebuild_both_ways(paths)
    assert (built, handed_back, replayed) == ([], sorted(ORDER_READ_MODELS), {})
    assert_same(sql_rows, python_rows, live_rows)

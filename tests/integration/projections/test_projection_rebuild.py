"""Rebuilding a projection from the log equals the live tables, for thousands
of random orders and while commands keep arriving; what it swaps in has the
same indexes and leaves no shadow table behind."""

import threading
import time

import pytest
from django.db import connection

from orders.repository import OrderRepository
from projections import rebuild, rebuild_bulk, runner
from projections.models import ProjectionCheckpoint
from projections.tables import BufferedTables
from tests.integration.projections.support import (
    ALL_TABLES,
    ORDER_READ_MODELS,
    Workload,
    all_states,
    assert_a_rebuild_changes_nothing,
    at,
    catch_up,
    checkpoint,
    events,
    head,
    indexes,
    order_events_in_log,
    order_projections,
    readable,
    rebuilt,
    rows,
    state,
    table_oids,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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
    orders = order_events_in_log()
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
        assert (result.events, result.applied, result.checkpoint) == (count, orders, last)
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, orders)
        assert state(p) == live[p.name], p.name
    assert indexes(ALL_TABLES) == live_indexes  # same names, same definitions
    new_oids = table_oids(ALL_TABLES)
    assert all(new_oids[t] != oids[t] for t in ALL_TABLES)  # swapped in, not patched up
    assert not table_oids([f"{t}{rebuild.SUFFIX}" for t in ALL_TABLES])  # no shadow left behind
    assert catch_up() == {p.name: 0 for p in order_projections()}

    # Once more, all in one pass through the Python folds, the rebuild's row
    # cache written out and read back after every batch (as on a log too long
    # to keep in memory).
    monkeypatch.setattr(rebuild_bulk, "REBUILD_BATCH", 300)
    monkeypatch.setattr(BufferedTables, "maybe_flush", BufferedTables.flush)
    readable()
    result = rebuild.rebuild(order_projections(), in_sql=False)
    assert (result.events, result.applied, result.checkpoint) == (count, 3 * orders, last)
    assert all_states() == live
    assert indexes(ALL_TABLES) == live_indexes

    # And with the bulk shared out over two processes, each streaming the
    # log; and in SQL on two connections, each taking slices of the streams.
    for in_sql in (False, True):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE order_list SET total_cents = 0")
        result = rebuild.rebuild(order_projections(), jobs=2, in_sql=in_sql)
        assert (result.events, result.applied, result.checkpoint) == (count, 3 * orders, last)
        assert all_states() == live
        assert indexes(ALL_TABLES) == live_indexes


# -- while commands keep arriving ---------------------------------------------------------


def test_a_rebuild_while_commands_keep_arriving_ends_equal_to_a_fresh_rebuild(monkeypatch, run_in_threads):
    # Many batches, so the writer overlaps them; and a final catch-up slower
    # than the writer, which must still end (it once chased the writer forever).
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 5)
    monkeypatch.setattr(rebuild_bulk, "REBUILD_BATCH", 5)
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
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, order_events_in_log()), p.name
    assert_a_rebuild_changes_nothing()
    assert indexes(ALL_TABLES) == index_names


def test_a_rebuilds_copy_refuses_a_value_its_integer_column_cannot_hold_and_writes_nothing():
    # Binary COPY would store 2**32 + 5 in an integer column as 5; the live
    # path and text COPY refuse it, and so must a rebuild.
    from datetime import UTC, datetime

    from projections.order_projections import InventoryProjection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE levels_copy_check (LIKE inventory_levels INCLUDING ALL)")
    tables = InventoryProjection().buffered_tables(rename={"levels": "levels_copy_check"})
    now = datetime.now(UTC)
    fits = {
        "sku": "FITS",
        "on_hand": 2**40,
        "reserved": 0,
        "available": 2**40,
        "version": 1,
        "updated_at": now,
    }
    tables.insert("levels", [{**fits, "refused": 2**31 - 1}])
    tables.flush()  # bigint columns take 2**40; 2**31 - 1 is the integer column's largest
    tables.insert("levels", [{**fits, "sku": "TOO-BIG", "refused": 2**32 + 5}])
    with pytest.raises(OverflowError, match=r"levels_copy_check\.refused"):
        tables.flush()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sku, refused FROM levels_copy_check")
        assert cursor.fetchall() == [("FITS", 2**31 - 1)]

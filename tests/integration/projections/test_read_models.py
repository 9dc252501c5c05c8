"""What each order read model holds after a known history: the order list
and its lines, the customer summary, daily sales, and the checkpoints."""

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from tests.integration.projections.support import (
    add_at_list_price,
    at,
    cancel,
    catch_up,
    checkpoint,
    head,
    order_events_in_log,
    order_projections,
    place_at_list_prices,
    remove,
    rows,
    ship,
    status_of,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def T(day: int, hour: int, minute: int) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def history(clock):
    """Four orders over two UTC days, then the projections caught up."""
    h = SimpleNamespace()
    clock.now = T(1, 10, 0)
    h.a = place_at_list_prices("alice", ("WIDGET-A", 2), ("GADGET-B", 1))  # 3998 + 500 = 4498
    clock.now = T(1, 10, 5)
    add_at_list_price(h.a.order_id, "WIDGET-A", 3)  # same SKU: 5 units, 10495
    clock.now = T(1, 10, 10)
    add_at_list_price(h.a.order_id, "BOLT-7", 4)  # 10595
    clock.now = T(1, 10, 15)
    remove(h.a.order_id, "GADGET-B")  # 10095
    clock.now = T(1, 11, 0)
    h.b = place_at_list_prices("alice", ("NUT-8", 10))  # 100
    clock.now = T(1, 11, 30)
    h.b_cancelled = cancel(h.b.order_id, "customer changed mind")
    clock.now = T(1, 12, 0)
    h.c = place_at_list_prices("bob", ("PIPE-3", 1))  # 700
    clock.now = T(2, 9, 0)
    h.a_shipped = ship(h.a.order_id, "DHL", "JD0001")
    clock.now = T(2, 9, 30)
    h.d = place_at_list_prices("bob", ("WIDGET-A", 1))  # 1999
    clock.now = T(2, 10, 0)
    add_at_list_price(h.c.order_id, "PIPE-3", 1)  # 1400
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
    o = place_at_list_prices("carol", ("WIDGET-A", 1), ("GADGET-B", 1))
    remove(o.order_id, "WIDGET-A")
    add_at_list_price(o.order_id, "WIDGET-A", 2)
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
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, order_events_in_log())
        assert status_of(p.name)["lag_events"] == 0 and status_of(p.name)["state"] == "running"

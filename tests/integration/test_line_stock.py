"""Stock per line, through the real fulfilment process: a line that cannot be
reserved is rejected on its own (OUT_OF_STOCK_POLICY=reject_line) and the
order carries on; quantity changes re-reserve or release; the read models
and the order page say what happened to each line."""

import re
import uuid

import pytest

from eventstore import EventStore
from orders import commands
from orders.domain.inventory import inventory_id
from orders.repository import OrderRepository
from projections import runner
from projections.models import CustomerSummary, DailySales, InventoryLevel, OrderLine, OrderSummary
from tests.support import (
    SHIPPING_FORM,
    ApiClient,
    login,
    place_order,
    read_model_snapshot,
    rebuilt_snapshot,
    run_command,
    run_until_no_new_events,
    stock_catalogue,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def reservations_on(settings):
    settings.INVENTORY_RESERVATION = True
    settings.OUT_OF_STOCK_POLICY = "reject_line"
    settings.PROJECTIONS_MODE = "off"  # each test runs the process manager itself


def receive(sku: str, quantity: int, price: int = 100) -> None:
    stock_catalogue([(sku, quantity, price)])
    commands.execute(commands.ReceiveStock(sku, quantity))


def level(sku: str) -> tuple[int, int, int]:
    row = InventoryLevel.objects.get(sku=sku)
    return row.on_hand, row.reserved, row.available


def types(aggregate_id) -> list[str]:
    return [e.event_type for e in EventStore().load(aggregate_id)]


def test_a_line_short_of_stock_is_rejected_alone_and_the_order_is_confirmed():
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1, price=500)
    oid = place_order("cust_r", [("WIDGET-A", 3, 100), ("GADGET-B", 2, 500)]).order_id

    run_until_no_new_events()

    order = OrderRepository().get(oid)
    assert order.status == "confirmed"
    assert list(order.lines) == ["WIDGET-A"] and order.total_cents == 300
    assert types(oid) == ["OrderPlaced", "LineRejected", "OrderConfirmed"]
    rejected = EventStore().load(oid)[1]
    assert rejected.data == {
        "sku": "GADGET-B",
        "quantity": 2,
        "remaining_quantity": 0,
        "price_cents": 500,
        "reason": "out of stock: GADGET-B (wanted 2, 1 available)",
        "order_total_cents": 300,
    }
    assert rejected.metadata["user_id"] == "system:fulfilment"
    # Nothing else was released: WIDGET-A stays reserved.
    assert level("WIDGET-A") == (10, 3, 7) and level("GADGET-B") == (1, 0, 1)
    assert "StockReleased" not in types(inventory_id("WIDGET-A"))

    # The read models: the line's status, and every total without it.
    summary = OrderSummary.objects.get(order_id=oid)
    assert (summary.status, summary.total_cents, summary.line_count, summary.item_count) == (
        "confirmed",
        300,
        1,
        3,
    )
    lines = {ln.sku: ln for ln in OrderLine.objects.filter(order_id=oid)}
    assert (lines["GADGET-B"].status, lines["GADGET-B"].quantity, lines["GADGET-B"].rejected_quantity) == (
        "rejected",
        0,
        2,
    )
    assert lines["GADGET-B"].rejection_reason.startswith("out of stock: GADGET-B")
    assert lines["WIDGET-A"].status == "active"
    assert CustomerSummary.objects.get(customer_id="cust_r").lifetime_total_cents == 300
    assert DailySales.objects.get().booked_cents == 300
    assert rebuilt_snapshot() == read_model_snapshot()


def test_an_order_none_of_whose_lines_can_be_reserved_is_cancelled():
    receive("WIDGET-A", 1)
    receive("GADGET-B", 0 + 1)
    oid = place_order("cust_n", [("WIDGET-A", 3, 100), ("GADGET-B", 2, 100)]).order_id

    run_until_no_new_events()

    order = OrderRepository().get(oid)
    assert order.status == "cancelled"
    assert order.cancel_reason == (
        "out of stock: GADGET-B (wanted 2, 1 available), WIDGET-A (wanted 3, 1 available)"  # by SKU
    )
    assert types(oid) == ["OrderPlaced", "OrderCancelled"]


def test_the_cancel_order_policy_cancels_the_whole_order_and_releases_what_it_held(settings):
    settings.OUT_OF_STOCK_POLICY = "cancel_order"
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1)
    oid = place_order("cust_c", [("WIDGET-A", 3, 100), ("GADGET-B", 2, 100)]).order_id

    run_until_no_new_events()

    assert OrderRepository().get(oid).status == "cancelled"
    assert "LineRejected" not in types(oid)
    assert level("WIDGET-A") == (10, 0, 10)


def test_a_changed_quantity_reserves_the_extra_units_or_releases_the_difference(staff):
    receive("WIDGET-A", 10)
    receive("GADGET-B", 10)
    api = ApiClient(staff)
    oid = place_order("cust_q", [("WIDGET-A", 2, 100), ("GADGET-B", 1, 100)]).order_id
    run_until_no_new_events()
    assert level("WIDGET-A") == (10, 2, 8)

    response = api.client.put(
        f"/api/orders/{oid}/items/WIDGET-A",
        data='{"quantity": 6}',
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 200, response.content
    assert OrderRepository().get(oid).status == "placed"  # the extra units wait for stock
    run_until_no_new_events()
    assert level("WIDGET-A") == (10, 6, 4)
    assert OrderRepository().get(oid).status == "confirmed"

    response = api.client.patch(
        f"/api/orders/{oid}/items/WIDGET-A",
        data='{"quantity": 1}',
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 200
    run_until_no_new_events()
    assert level("WIDGET-A") == (10, 1, 9)  # part of the reservation released, the rest kept
    assert OrderRepository().get(oid).status == "confirmed"
    changed = [e for e in EventStore().load(oid) if e.event_type == "LineQuantityChanged"]
    assert [(e.data["old_quantity"], e.data["quantity"], e.data["order_total_cents"]) for e in changed] == [
        (2, 6, 700),
        (6, 1, 200),
    ]
    assert OrderLine.objects.get(order_id=oid, sku="WIDGET-A").quantity == 1
    assert OrderSummary.objects.get(order_id=oid).total_cents == 200

    # More than the warehouse has: the extra units are rejected, the line keeps what it had.
    run_command(commands.ChangeLineQuantity(oid, "WIDGET-A", 15))
    run_until_no_new_events()
    order = OrderRepository().get(oid)
    assert order.status == "confirmed" and order.lines["WIDGET-A"].quantity == 1
    rejected = EventStore().load(oid)[-2]
    assert rejected.event_type == "LineRejected"
    assert (rejected.data["quantity"], rejected.data["remaining_quantity"]) == (14, 1)
    assert level("WIDGET-A") == (10, 1, 9)
    assert rebuilt_snapshot() == read_model_snapshot()


def test_quantity_changes_follow_the_order_rules(manager):
    stock_catalogue([("WIDGET-A", 1, 100)])
    api = ApiClient(manager)
    oid = place_order("cust_r", [("WIDGET-A", 2, 100)]).order_id

    def put(sku, body, **headers):
        return api.client.put(
            f"/api/orders/{oid}/items/{sku}",
            data=body,
            content_type="application/json",
            headers={**api.headers, **headers},
        )

    assert put("NOPE", '{"quantity": 1}').status_code == 404
    assert put("WIDGET-A", '{"quantity": 0}').status_code == 400
    assert put("WIDGET-A", '{"quantity": 3}', **{"If-Match": '"5"'}).status_code == 412
    assert put("WIDGET-A", '{"quantity": 2}').json()["version"] == 1  # the same quantity: nothing appended
    run_command(commands.CancelOrder(oid, "gone"))
    assert put("WIDGET-A", '{"quantity": 3}').status_code == 409
    assert types(oid) == ["OrderPlaced", "OrderCancelled"]


def test_the_order_page_says_what_happened_to_each_line_and_the_confirmation_tells_the_truth(manager):
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1)
    client = login(manager)

    placed = client.post(
        "/orders/",
        {
            **SHIPPING_FORM,
            "customer_id": "cust_page",
            "sku_0": "WIDGET-A",
            "quantity_0": "2",
            "sku_1": "GADGET-B",
            "quantity_1": "3",
        },
    )
    assert placed.status_code == 302
    oid = uuid.UUID(re.search(r"/orders/([0-9a-f-]{36})/", placed["Location"]).group(1))
    runner.run_projection(__import__("projections.base", fromlist=["registry"]).registry.get("order_list"))
    first = client.get(placed["Location"]).content.decode()
    # While the stock answer is on its way: no green "done", the stock panel polls.
    assert '<li class="info">Order placed; reserving stock for its lines…</li>' in first
    assert '<li class="success">' not in first
    assert 'hx-trigger="every 1s"' in first

    run_until_no_new_events()
    poll = client.get(f"/orders/{oid}/reservation", headers={"HX-Request": "true"})
    assert poll["HX-Refresh"] == "true"  # the panel reloads the page now the answer is there
    page = client.get(f"/orders/{oid}/").content.decode()
    problem = "1 line could not be reserved in full: out of stock: GADGET-B (wanted 3, 1 available)."
    assert f'id="stock-problem">{problem}' in page
    assert re.search(r'data-sku="WIDGET-A">.*?<span class="badge confirmed">Reserved</span>', page, re.S)
    assert re.search(
        r'data-sku="GADGET-B" class="rejected">.*?Rejected: out of stock: GADGET-B \(wanted 3, 1 available\)',
        page,
        re.S,
    )
    assert "Line rejected: out of stock: GADGET-B (wanted 3, 1 available)" in page  # the timeline
    assert "Order placed" not in page  # the message was shown once, before the answer


def test_the_message_after_placing_says_what_the_page_shows_when_the_stock_answer_is_already_in(manager):
    """With projections in the web process (`make run`'s default) the stock
    is reserved before the order page loads: the note says so, rather than
    "reserving stock…" over a confirmed order. Shown once."""
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1)
    client = login(manager)

    def place(customer, quantity_b):
        form = {**SHIPPING_FORM, "customer_id": customer, "sku_0": "WIDGET-A", "quantity_0": "2"}
        placed = client.post("/orders/", {**form, "sku_1": "GADGET-B", "quantity_1": str(quantity_b)})
        assert placed.status_code == 302
        run_until_no_new_events()  # the answer is in before the browser follows the redirect
        return placed["Location"], client.get(placed["Location"]).content.decode()

    location, page = place("cust_fast", 1)
    assert 'id="order-status">confirmed<' in page
    assert '<li class="success">Order placed; stock is reserved for every line.</li>' in page
    assert "reserving stock" not in page
    assert "Order placed" not in client.get(location).content.decode()  # once

    _, page = place("cust_short", 3)  # GADGET-B is out of stock now
    assert '<li class="info">Order placed.</li>' in page and 'id="stock-problem">1 line could not' in page
    assert '<li class="success">' not in page

"""The fulfilment process manager and inventory against real PostgreSQL:
reservation, confirmation, compensation, duplicates, crashes, races."""

import json
import random
import threading
import uuid

import pytest
from django.db import connection

from eventstore import EventStore, EventTypeRegistry, NewEvent
from orders import commands, fulfilment
from orders.domain import OrderAggregate
from orders.domain.errors import OrderNotConfirmedError
from orders.domain.events import OrderPlaced
from orders.domain.inventory import (
    INVENTORY_AGGREGATE,
    InventoryItem,
    inventory_event_from_data,
    inventory_id,
)
from orders.models import FulfilmentProcess
from orders.repository import InventoryRepository, OrderRepository
from projections import runner
from projections.base import registry
from projections.models import InventoryLevel, OrderSummary, ProjectionCheckpoint, ProjectionFailure
from tests.support import (
    last_position,
    login,
    place_order,
    run_until_no_new_events,
    stock_catalogue,
    token_headers,
    wait_visible,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def reservations_on(settings):
    settings.INVENTORY_RESERVATION = True
    settings.PROJECTIONS_MODE = "off"  # each test runs the process manager itself


def receive(sku: str, quantity: int) -> None:
    """Stock arrives; the catalogue sells the SKU at 1.00 (what place_units charges)."""
    stock_catalogue([(sku, quantity, 100)])
    commands.execute(commands.ReceiveStock(sku, quantity))


def place_units(*lines: tuple[str, int]) -> uuid.UUID:
    """Place an order of (sku, quantity) lines, every unit at 1.00; its id."""
    return place_order("cust_f", [(sku, quantity, 100) for sku, quantity in lines]).order_id


def level(sku: str) -> tuple[int, int, int]:
    row = InventoryLevel.objects.get(sku=sku)
    return row.on_hand, row.reserved, row.available


def order(order_id) -> OrderAggregate:
    return OrderRepository().get(order_id)


def types(aggregate_id) -> list[str]:
    return [e.event_type for e in EventStore().load(aggregate_id)]


def test_an_order_with_stock_is_reserved_confirmed_and_ships_its_stock():
    receive("WIDGET-A", 10)
    receive("GADGET-B", 5)
    oid = place_units(("WIDGET-A", 3), ("GADGET-B", 2))
    with pytest.raises(OrderNotConfirmedError):
        commands.execute(commands.ShipOrder(oid))
    run_until_no_new_events()
    assert order(oid).status == "confirmed"
    assert OrderSummary.objects.get(order_id=oid).status == "confirmed"
    assert level("WIDGET-A") == (10, 3, 7) and level("GADGET-B") == (5, 2, 3)
    assert types(oid) == ["OrderPlaced", "OrderConfirmed"]

    commands.execute(commands.ShipOrder(oid, "DHL"))
    run_until_no_new_events()
    assert level("WIDGET-A") == (7, 0, 7) and level("GADGET-B") == (3, 0, 3)
    assert types(inventory_id("WIDGET-A")) == ["StockReceived", "StockReserved", "StockShipped"]
    assert FulfilmentProcess.objects.get(order_id=oid).status == "shipped"


def test_an_order_short_of_stock_is_cancelled_as_out_of_stock_and_releases_what_it_held(settings):
    settings.OUT_OF_STOCK_POLICY = "cancel_order"
    receive("WIDGET-A", 10)
    receive("GADGET-B", 1)
    oid = place_units(("WIDGET-A", 3), ("GADGET-B", 2))
    run_until_no_new_events()
    final = order(oid)
    assert final.status == "cancelled"
    assert final.cancel_reason == "out of stock: GADGET-B (wanted 2, 1 available)"
    assert level("WIDGET-A") == (10, 0, 10) and level("GADGET-B") == (1, 0, 1)
    summary = OrderSummary.objects.get(order_id=oid)
    assert summary.status == "cancelled" and summary.cancel_reason.startswith("out of stock")
    # The compensation is caused by the refusal and carries the order's correlation id.
    history = EventStore().load(oid)
    refused = next(
        e for e in EventStore().load(inventory_id("GADGET-B")) if e.event_type == "ReservationRefused"
    )
    cancelled = history[-1]
    assert cancelled.event_type == "OrderCancelled"
    assert cancelled.metadata["causation_id"] == str(refused.event_id)
    assert cancelled.metadata["correlation_id"] == history[0].metadata["correlation_id"]
    assert cancelled.metadata["user_id"] == "system:fulfilment"


def test_an_order_of_many_lines_none_in_stock_is_cancelled_with_a_reason_that_fits():
    """Every line's shortage would make a reason longer than a reason may be:
    the first lines are named and the rest counted, and the order is
    cancelled (a refused reason left it waiting for good)."""
    skus = [f"LONG-SKU-NAME-FOR-A-SHORTAGE-{n:02d}" for n in range(12)]
    stock_catalogue([(sku, 0, 100) for sku in skus])
    oid = place_units(*((sku, 1) for sku in skus))
    run_until_no_new_events()
    final = order(oid)
    assert final.status == "cancelled"
    reason = final.cancel_reason
    assert len(reason) <= 500 and reason.startswith(f"out of stock: {skus[0]} (wanted 1, 0 available), ")
    named = sum(sku in reason for sku in skus)
    assert 1 < named < len(skus) and reason.endswith(f" and {len(skus) - named} more lines")


def test_a_decision_the_rules_refuse_leaves_the_order_waiting_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(fulfilment, "_out_of_stock", lambda shortages: "x" * 501)  # a reason refused
    stock_catalogue([("NONE-LEFT", 0, 100)])
    oid = place_units(("NONE-LEFT", 1))
    with caplog.at_level("INFO", logger="orders.fulfilment"):
        run_until_no_new_events()
    assert order(oid).status == "placed"
    [warning] = [r for r in caplog.records if r.name == "orders.fulfilment" and r.levelname == "WARNING"]
    assert f"fulfilment of {oid} could not decide" in warning.getMessage()
    assert "the order still waits" in warning.getMessage()


def test_adding_a_line_reserves_more_and_removing_one_releases_it():
    receive("WIDGET-A", 10)
    receive("GADGET-B", 10)
    receive("EXTRA-C", 10)
    oid = place_units(("WIDGET-A", 2), ("GADGET-B", 2))
    run_until_no_new_events()
    assert order(oid).status == "confirmed"

    commands.execute(commands.AddItem(oid, "EXTRA-C", 4, 100))
    assert order(oid).status == "placed"  # the new units wait for stock
    run_until_no_new_events()
    assert order(oid).status == "confirmed"
    assert level("EXTRA-C") == (10, 4, 6)

    commands.execute(commands.AddItem(oid, "WIDGET-A", 3, 100))
    run_until_no_new_events()
    assert level("WIDGET-A") == (10, 5, 5)

    commands.execute(commands.RemoveItem(oid, "GADGET-B"))
    run_until_no_new_events()
    assert level("GADGET-B") == (10, 0, 10)
    assert order(oid).status == "confirmed"


def test_cancelling_an_order_releases_its_reservations():
    receive("WIDGET-A", 10)
    oid = place_units(("WIDGET-A", 6))
    run_until_no_new_events()
    commands.execute(commands.CancelOrder(oid, "customer changed their mind"))
    run_until_no_new_events()
    assert level("WIDGET-A") == (10, 0, 10)
    assert FulfilmentProcess.objects.get(order_id=oid).status == "cancelled"


def test_adding_more_than_is_in_stock_to_an_open_order_cancels_it_and_releases_everything(settings):
    settings.OUT_OF_STOCK_POLICY = "cancel_order"
    receive("WIDGET-A", 5)
    oid = place_units(("WIDGET-A", 2))
    run_until_no_new_events()
    commands.execute(commands.AddItem(oid, "WIDGET-A", 10, 100))
    run_until_no_new_events()
    assert order(oid).status == "cancelled"
    assert level("WIDGET-A") == (5, 0, 5)


def test_the_same_events_processed_again_reserve_nothing_more():
    receive("WIDGET-A", 10)
    oid = place_units(("WIDGET-A", 3))
    run_until_no_new_events()
    before = EventStore().read_all(limit=10_000)
    # Deliver everything again: the checkpoint goes back to the start.
    ProjectionCheckpoint.objects.filter(name="fulfilment").update(tx_id=0, position=0)
    run_until_no_new_events()
    assert len(EventStore().read_all(limit=10_000)) == len(before)
    assert level("WIDGET-A") == (10, 3, 7)
    # And a process with no memory of the events: the inventory still reserves once.
    FulfilmentProcess.objects.all().delete()
    manager = registry.get("fulfilment")
    for event in EventStore().load(oid)[:1]:
        manager.handle(event)
    run_until_no_new_events()
    item = InventoryRepository().get("WIDGET-A")
    assert item.reservations == {str(oid): 3}


def test_a_backlog_is_worked_off_in_slices_that_read_short_batches_and_only_the_metadata_they_use(
    monkeypatch,
):
    from projections import checkpoints, process_runner

    receive("WIDGET-A", 100)
    placed = [place_units(("WIDGET-A", 1)) for _ in range(30)]
    checkpoints.ensure()
    wait_visible(EventStore(), last_position())
    reads, metadata = [], []
    read_all, with_metadata = EventStore.read_all, EventStore.with_metadata
    monkeypatch.setattr(EventStore, "read_all", lambda *a, **k: reads.append(read_all(*a, **k)) or reads[-1])
    monkeypatch.setattr(
        EventStore, "with_metadata", lambda self, es: metadata.append(with_metadata(self, es)) or metadata[-1]
    )
    monkeypatch.setattr(process_runner, "SLICE_BATCH", 12)
    manager = registry.get("fulfilment")

    # A slice whose budget is spent by its first event: it read a short
    # batch, and the metadata of a few events, the one it handled among them.
    first = process_runner.run_events(manager, time_budget=1e-6)
    assert first.applied == 1 and first.more
    assert [len(batch) for batch in reads] == [12]
    assert 1 <= sum(map(len, metadata)) <= process_runner.METADATA_CHUNK
    assert metadata[0][0].metadata["correlation_id"]
    # The slices after it work the backlog off: every order confirmed once.
    run_until_no_new_events()
    assert {order(oid).status for oid in placed} == {"confirmed"}
    assert level("WIDGET-A") == (100, 30, 70)


def test_a_crash_between_steps_resumes_where_it_stopped(monkeypatch):
    receive("WIDGET-A", 10)
    oid = place_units(("WIDGET-A", 3))
    crashes = []

    def crash_on_confirm(process, order_id):
        if process.lines["WIDGET-A"]["reserved"] and not crashes:
            crashes.append(order_id)
            raise RuntimeError("worker lost mid-step")
        return real_decide(process, order_id)

    real_decide = fulfilment._decide
    monkeypatch.setattr(fulfilment, "_decide", crash_on_confirm)
    run_until_no_new_events()
    # The reservation step committed; the confirming step rolled back and is recorded.
    assert crashes == [oid]
    assert order(oid).status == "placed"
    failure = ProjectionFailure.objects.get(projection="fulfilment", resolved_at__isnull=True)
    assert failure.event_type == "StockReserved" and "worker lost" in failure.error
    assert level("WIDGET-A") == (10, 3, 7)

    ProjectionFailure.objects.filter(pk=failure.pk).update(next_attempt_at=None)  # its backoff is over
    run_until_no_new_events()
    assert order(oid).status == "confirmed"
    assert level("WIDGET-A") == (10, 3, 7)  # reserved once
    assert types(oid) == ["OrderPlaced", "OrderConfirmed"]
    assert ProjectionFailure.objects.get(pk=failure.pk).resolution == "retried"


def test_a_run_of_events_that_fails_in_its_middle_keeps_the_events_before_it_once(monkeypatch):
    from projections import checkpoints, process_runner

    receive("WIDGET-A", 10)
    placed = [place_units(("WIDGET-A", 1)) for _ in range(4)]
    bad = placed[2]
    real = fulfilment.REACTIONS[OrderPlaced]

    def fails_for_the_third(step, fact):
        real(step, fact)  # its reservation is asked for, then the step fails
        if step.order_id == bad:
            raise RuntimeError("cannot reserve this one")

    monkeypatch.setitem(fulfilment.REACTIONS, OrderPlaced, fails_for_the_third)
    checkpoints.ensure()
    wait_visible(EventStore(), last_position())
    manager = registry.get("fulfilment")

    # The four placements come in one run (one transaction); the third
    # raises, so the run keeps nothing, and they are taken one at a time.
    result = process_runner.run_events(manager)

    assert result.stopped == {"fulfilment"}
    failing = EventStore().load(bad)[0]
    failure = ProjectionFailure.objects.get(projection="fulfilment", resolved_at__isnull=True)
    assert (failure.position, failure.aggregate_id) == (failing.position, bad)
    # The two before it reserved once each (not again for the run rolled
    # back), the failing one and the one after it not at all.
    stock = EventStore().load(inventory_id("WIDGET-A"))
    reserved_for = [e.data["order_id"] for e in stock if e.event_type == "StockReserved"]
    assert sorted(reserved_for) == sorted(str(oid) for oid in placed[:2])
    # The checkpoint stops just before the failing event, its count exact.
    checkpoint = checkpoints.read(["fulfilment"], "default")["fulfilment"]
    before = [e for e in EventStore().read_all(limit=10_000) if e.global_position < failing.global_position]
    assert checkpoint.global_position == before[-1].global_position
    assert checkpoint.events_seen == len(before)


def test_two_orders_competing_for_the_last_units_one_gets_them_the_other_is_cancelled(run_in_threads):
    receive("LAST-UNITS", 5)
    barrier = threading.Barrier(2)

    def buyer():
        barrier.wait()
        return place_units(("LAST-UNITS", 3))

    first, second = run_in_threads(buyer, buyer)
    run_until_no_new_events()
    statuses = sorted([order(first).status, order(second).status])
    assert statuses == ["cancelled", "confirmed"]
    loser = first if order(first).status == "cancelled" else second
    assert order(loser).cancel_reason.startswith("out of stock: LAST-UNITS")
    assert level("LAST-UNITS") == (5, 3, 2)


def test_a_burst_of_concurrent_orders_and_deliveries_never_drives_stock_negative(run_in_threads):
    receive("HOT-ITEM", 10)
    placed: list = []
    lock = threading.Lock()

    def buyer(n):
        rng = random.Random(n)
        for _ in range(4):
            oid = place_units(("HOT-ITEM", rng.randint(1, 4)))
            with lock:
                placed.append(oid)

    def supplier():
        for _ in range(3):
            commands.execute(commands.ReceiveStock("HOT-ITEM", 2))

    def manager():
        for _ in range(5):
            runner.run_all()

    run_in_threads(*[lambda n=n: buyer(n) for n in range(6)], supplier, manager, manager)
    run_until_no_new_events()

    # Replaying the SKU's stream: available is never negative at any version.
    item = InventoryItem("HOT-ITEM")
    for e in EventStore().load(inventory_id("HOT-ITEM")):
        item.apply(inventory_event_from_data(e.event_type, e.data))
        assert item.available >= 0 and item.reserved >= 0
    final = {oid: order(oid) for oid in placed}
    confirmed = [o for o in final.values() if o.status == "confirmed"]
    assert all(o.status in ("confirmed", "cancelled") for o in final.values())
    assert sum(o.lines["HOT-ITEM"].quantity for o in confirmed) == item.reserved <= item.on_hand == 16
    assert level("HOT-ITEM") == (item.on_hand, item.reserved, item.available)
    assert all(o.cancel_reason.startswith("out of stock") for o in final.values() if o.status == "cancelled")


def test_the_audit_trace_of_an_order_shows_the_whole_workflow(staff):
    receive("WIDGET-A", 10)
    oid = place_units(("WIDGET-A", 2))
    run_until_no_new_events()
    correlation = EventStore().load(oid)[0].metadata["correlation_id"]
    page = login(staff).get("/audit/", {"correlation_id": correlation}).content.decode()
    assert page.count("OrderPlaced") == 1
    assert page.count("StockReserved") == 1
    assert page.count("OrderConfirmed") == 1
    assert "StockReceived" not in page


def test_orders_placed_before_fulfilment_existed_still_load_and_ship():
    """An OrderPlaced written in its v1 shape (no requires_confirmation)."""
    old = EventTypeRegistry()
    old.register("OrderPlaced", OrderPlaced.previous_schemas[0], aggregate_type="Order")
    legacy = uuid.uuid4()
    data = {
        "customer_id": "cust_old",
        "items": [{"sku": "OLD-1", "quantity": 1, "price_cents": 500}],
        "total_cents": 500,
    }
    EventStore(registry=old).append("Order", legacy, [NewEvent("OrderPlaced", data)], 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_version, event_data FROM events WHERE aggregate_id = %s", [legacy])
        stored_version, stored = cursor.fetchone()
    assert stored_version == 1 and "requires_confirmation" not in json.loads(stored)

    [event] = EventStore().load(legacy)
    assert event.data["requires_confirmation"] is False and event.stored_schema_version == 1
    loaded = order(legacy)
    assert loaded.requires_confirmation is False and loaded.status == "placed"
    commands.execute(commands.ShipOrder(legacy, "DHL"))  # no confirmation needed
    run_until_no_new_events()
    assert OrderSummary.objects.get(order_id=legacy).status == "shipped"
    assert not FulfilmentProcess.objects.filter(order_id=legacy).exists()


# -- the inventory API -------------------------------------------------------------------------


def test_receiving_stock_over_the_api_and_listing_levels(client, staff_headers, staff):
    stock_catalogue([("WIDGET-Z", 0, 100), ("WIDGET-A", 0, 100)])
    post = lambda body, **h: client.post(  # noqa: E731
        "/api/inventory/WIDGET-Z/receive",
        json.dumps(body),
        content_type="application/json",
        headers={**staff_headers, **h},
    )
    first = post({"quantity": 7}, **{"Idempotency-Key": "rcv-1"})
    assert first.status_code == 200 and first.json()["version"] == 1 and first.json()["sku"] == "WIDGET-Z"
    again = post({"quantity": 7}, **{"Idempotency-Key": "rcv-1"})
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert post({"quantity": 8}, **{"Idempotency-Key": "rcv-1"}).status_code == 422
    stale = post({"quantity": 3}, **{"If-Match": '"5"'})
    assert stale.status_code == 412
    assert stale.json()["title"] == "The stock has changed"
    assert stale.json()["detail"].startswith("the stock of WIDGET-Z is at version 1, not 5")
    assert post({"quantity": 0}).status_code == 400
    assert post({"quantity": "3"}).status_code == 400
    bad_sku = client.post(
        "/api/inventory/no%20good/receive",
        '{"quantity": 1}',
        content_type="application/json",
        headers=staff_headers,
    )
    assert bad_sku.status_code == 400 and bad_sku["Content-Type"] == "application/problem+json"
    assert [e.event_type for e in EventStore().load(inventory_id("WIDGET-Z"))] == ["StockReceived"]
    # Stock arrives for products of the catalogue: a SKU it lacks is a typo.
    unknown = client.post(
        "/api/inventory/NOPE-9/receive",
        '{"quantity": 1}',
        content_type="application/json",
        headers=staff_headers,
    )
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/product-not-found"
    assert EventStore().load(inventory_id("NOPE-9")) == []
    run_until_no_new_events()  # the catalogue page's read model, which offers the right SKU
    typo = {"sku": "widget-a", "quantity": "3", "form_key": "0123456789abcdef" * 2}
    page = login(staff).post("/inventory/", typo, follow=True)
    assert "SKU widget-a is not in the catalogue; did you mean WIDGET-A?" in page.content.decode()
    assert EventStore().load(inventory_id("widget-a")) == []

    receive("LOW-STOCK", 2)
    run_until_no_new_events()
    listed = client.get("/api/inventory/", headers=staff_headers)
    assert listed.status_code == 200 and int(listed["X-Projection-Position"]) > 0
    by_sku = {r["sku"]: r for r in listed.json()["results"]}
    assert by_sku["WIDGET-Z"]["on_hand"] == 7 and by_sku["LOW-STOCK"]["available"] == 2
    low = client.get("/api/inventory/", {"available_max": 5}, headers=staff_headers).json()["results"]
    assert [r["sku"] for r in low] == ["LOW-STOCK"]
    first = client.get("/api/inventory/", {"limit": 1}, headers=staff_headers).json()
    assert [r["sku"] for r in first["results"]] == ["LOW-STOCK"] and first["next_after"] == "LOW-STOCK"
    last = client.get("/api/inventory/", {"after": "LOW-STOCK", "limit": 1}, headers=staff_headers).json()
    assert [r["sku"] for r in last["results"]] == ["WIDGET-Z"] and last["next_after"] is None  # full, last
    assert client.get("/api/inventory/", {"limit": 0}, headers=staff_headers).status_code == 400


def test_only_order_managers_may_receive_stock(client, reader):
    headers = token_headers(reader)
    response = client.post(
        "/api/inventory/WIDGET-A/receive", '{"quantity": 1}', content_type="application/json", headers=headers
    )
    assert response.status_code == 403
    assert EventStore().stream_version(inventory_id("WIDGET-A")) == 0
    assert INVENTORY_AGGREGATE == "InventoryItem"


def test_a_removed_and_re_added_sku_does_not_inherit_the_old_lines_reservation():
    """The user removes A and adds it back (smaller) before the process has
    reacted: the old line's late StockReserved must not count for the new one."""
    receive("WIDGET-A", 5)
    receive("GADGET-B", 5)
    oid = place_units(("WIDGET-A", 5), ("GADGET-B", 1))
    commands.execute(commands.RemoveItem(oid, "WIDGET-A"))
    commands.execute(commands.AddItem(oid, "WIDGET-A", 2, 100))
    run_until_no_new_events()
    final = order(oid)
    item = InventoryRepository().get("WIDGET-A")
    # Either it holds exactly what the new line wants and is confirmed, or it
    # was cancelled and holds nothing: never confirmed with the old line's stock.
    if final.status == "confirmed":
        assert item.reservations == {str(oid): 2}
    else:
        assert final.status == "cancelled" and item.reservations == {}
    assert level("WIDGET-A")[1] == item.reserved


def test_an_inventory_stream_is_not_an_order(client, staff_headers):
    receive("WIDGET-A", 1)
    stream = inventory_id("WIDGET-A")
    for response in (
        client.post(
            f"/api/orders/{stream}/cancel",
            '{"reason": "x"}',
            content_type="application/json",
            headers=staff_headers,
        ),
        client.get(f"/api/orders/{stream}/state", headers=staff_headers),
    ):
        assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert [e.event_type for e in EventStore().load(stream)] == ["StockReceived"]


def test_the_stock_panel_polls_from_the_moment_an_order_waits_for_stock(staff):
    """Before the process manager has picked the order up, the detail page
    already shows the stock panel and polls it; once the order is confirmed
    the poll asks for a reload, and the page says the stock is reserved."""
    client = login(staff)
    receive("WIDGET-A", 5)
    oid = place_units(("WIDGET-A", 2))
    store = EventStore()
    wait_visible(store, store.load(oid)[-1].position)
    runner.run_projection(registry.get("order_list"))  # the list knows it; fulfilment has not run
    assert not FulfilmentProcess.objects.filter(order_id=oid).exists()

    page = client.get(f"/orders/{oid}/").content.decode()
    assert f'hx-get="/orders/{oid}/reservation"' in page and 'hx-trigger="every 1s"' in page
    assert 'id="ship-waiting"' in page
    poll = client.get(f"/orders/{oid}/reservation", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "Reserving stock" in poll.content.decode()

    run_until_no_new_events()
    poll = client.get(f"/orders/{oid}/reservation", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and poll["HX-Refresh"] == "true"
    page = client.get(f"/orders/{oid}/").content.decode()
    assert "Stock is reserved for every line." in page and 'hx-trigger="every 1s"' not in page
    assert 'id="ship-waiting"' not in page


def test_a_stock_panel_poll_for_an_order_that_stopped_waiting_reloads_the_page(staff):
    """Cancelled (here, or in another tab) before the process manager picked
    it up: the polling panel asks for a reload instead of polling a 404."""
    client = login(staff)
    oid = place_units(("WIDGET-A", 1))
    commands.execute(commands.CancelOrder(oid, "changed my mind"))
    store = EventStore()
    wait_visible(store, store.load(oid)[-1].position)
    runner.run_projection(registry.get("order_list"))
    assert not FulfilmentProcess.objects.filter(order_id=oid).exists()

    poll = client.get(f"/orders/{oid}/reservation", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and poll["HX-Refresh"] == "true"
    assert client.get(f"/orders/{oid}/reservation").status_code == 404  # not a panel to show
    assert 'hx-trigger="every 1s"' not in client.get(f"/orders/{oid}/").content.decode()

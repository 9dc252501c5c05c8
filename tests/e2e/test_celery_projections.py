"""Projections driven by real Celery workers on a real Redis, through the
running app: the happy path, read-your-writes, and the faults that must only
ever delay a projection."""

import random
import threading
import time
import uuid

import pytest
import requests

from eventstore import EventStore
from orders import commands
from orders.domain import Line
from orders.domain.inventory import inventory_id
from projections.base import registry
from tests.support import (
    checkpoints,
    event_head,
    read_model_snapshot,
    rebuilt_snapshot,
    stock_catalogue,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture(autouse=True)
def catalogue(transactional_db):
    """The catalogue sells what these tests order, at the prices they state."""
    stock_catalogue(
        [
            ("WIDGET-A", 1, 1999),
            ("GADGET", 1, 500),
            ("R", 1, 1),
            *((f"S{i}", 1, 10) for i in range(3)),
            *((f"BASE-{i}", 1, 100 + i) for i in range(5)),
            *((f"SKU-{k}", 1, 250) for k in range(4)),
        ]
    )


def api(stack, token, method, path, body=None, headers=None):
    return requests.request(
        method,
        f"{stack.base_url}{path}",
        json=body,
        headers={"Authorization": f"Token {token}", **(headers or {})},
        timeout=30,
    )


def place(stack, token, customer="cust_e2e", sku="WIDGET-A", quantity=2, headers=None):
    """POST /api/orders/ to the running app: one line at 19.99 a unit. The
    answer must be 201; its body."""
    response = api(
        stack,
        token,
        "POST",
        "/api/orders/",
        {"customer_id": customer, "items": [{"sku": sku, "quantity": quantity, "price_cents": 1999}]},
        headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def caught_up() -> bool:
    _, head = event_head()
    cps = checkpoints()
    return len(cps) == len(registry.all()) and all(position == head for position, _ in cps.values())


def write_orders_directly(n: int, seed: int) -> None:
    """Commands through the handlers in this process (no nudges: mode off)."""
    rng = random.Random(seed)
    for i in range(n):
        order = commands.execute(
            commands.PlaceOrder(f"cust_{i % 37}", (Line(f"BASE-{i % 5}", 1, 100 + i % 5),))
        ).order_id
        for k in range(rng.randint(0, 3)):
            commands.execute(commands.AddItem(order, f"SKU-{k}", rng.randint(1, 5), 250))
        roll = rng.random()
        if roll < 0.3:
            commands.execute(commands.ShipOrder(order, "DHL"))
        elif roll < 0.45:
            commands.execute(commands.CancelOrder(order, "changed mind"))


def test_a_command_reaches_the_read_model_through_a_worker_nudged_after_commit(stack, token):
    stack.start_worker()  # no beat: only the post-commit nudge can start it
    placed = place(stack, token)
    read = api(
        stack,
        token,
        "GET",
        f"/api/orders/{placed['order_id']}",
        headers={"X-Min-Position": str(placed["position"])},
    )
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["status"] == "placed" and body["total_cents"] == 3998 and body["version"] == 1
    assert int(read.headers["X-Projection-Position"]) >= placed["position"]

    added = api(
        stack,
        token,
        "POST",
        f"/api/orders/{placed['order_id']}/items",
        {"sku": "GADGET", "quantity": 1, "price_cents": 500},
    )
    assert added.status_code == 200
    listed = api(
        stack,
        token,
        "GET",
        "/api/orders/?customer_id=cust_e2e",
        headers={"X-Min-Position": str(added.json()["position"])},
    )
    assert [o["total_cents"] for o in listed.json()["results"]] == [4498]
    assert wait_until(caught_up, 20, "every projection to reach the head")


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(stack):
    write_orders_directly(600, seed=1)
    worker = stack.start_worker()
    stack.start_beat()
    _, head = event_head()
    # Kill it while it is part-way through the log (batches of 50 events).
    wait_until(
        lambda: any(0 < position < head for position, _ in checkpoints().values()),
        60,
        "the worker to start projecting",
    )
    stack.kill(worker)
    assert not caught_up()
    stack.start_worker()
    wait_until(caught_up, 120, "a new worker to catch every projection up")
    count, _ = event_head()
    assert all(seen == count for _, seen in checkpoints().values()), checkpoints()
    live = read_model_snapshot()
    assert live == rebuilt_snapshot()


def test_redis_restarting_while_commands_arrive_only_delays_projections(stack, token, redis_server):
    stack.start_worker()
    stack.start_beat()
    placed: list[str] = []
    stop = threading.Event()
    errors: list[str] = []

    def client():
        while not stop.is_set():
            try:
                response = api(
                    stack,
                    token,
                    "POST",
                    "/api/orders/",
                    {"customer_id": "cust_r", "items": [{"sku": "R", "quantity": 1, "price_cents": 1}]},
                )
            except requests.RequestException as exc:
                errors.append(str(exc))
                continue
            if response.status_code == 201:
                placed.append(response.json()["order_id"])
            else:
                errors.append(f"{response.status_code} {response.text[:200]}")
            time.sleep(0.02)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_until(lambda: len(placed) >= 10, 30, "some orders before the outage")
        redis_server.stop()
        during = len(placed)
        wait_until(lambda: len(placed) >= during + 10, 30, "commands to keep succeeding without Redis")
        time.sleep(1)
        redis_server.start()  # empty: every queued task and nudge flag is gone
        wait_until(lambda: len(placed) >= during + 30, 30, "commands after Redis is back")
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    wait_until(caught_up, 90, "beat and the worker to catch up after the outage")
    listed = set()
    url = "/api/orders/?customer_id=cust_r&limit=200"
    while url:
        page = api(stack, token, "GET", url).json()
        listed |= {o["order_id"] for o in page["results"]}
        url = page["next"] and page["next"].replace(stack.base_url, "")
    assert listed == set(placed)
    assert read_model_snapshot() == rebuilt_snapshot()


def test_the_same_task_delivered_twice_changes_nothing(stack):
    from celery import Celery

    write_orders_directly(100, seed=2)
    stack.start_worker()
    stack.start_worker()
    app = Celery("e2e-sender", broker=stack.redis.url, set_as_current=False)  # leaves the app alone
    try:
        for _ in range(2):
            app.send_task("projections.tasks.run_projections", queue="projections")
        wait_until(caught_up, 60, "the projections to catch up")
        before, cps = read_model_snapshot(), checkpoints()
        for _ in range(4):  # delivered again (and concurrently, two workers)
            app.send_task("projections.tasks.run_projections", queue="projections")
        time.sleep(2)
    finally:
        app.close()
    assert read_model_snapshot() == before
    assert checkpoints() == cps
    count, _ = event_head()
    assert all(seen == count for _, seen in cps.values())


def test_two_workers_and_several_writers_apply_every_event_exactly_once(stack, token):
    stack.start_worker()
    stack.start_worker()
    stack.start_beat()
    ids: list[str] = []
    lock = threading.Lock()

    def writer(n):
        session = requests.Session()
        for i in range(40):
            response = session.post(
                f"{stack.base_url}/api/orders/",
                json={
                    "customer_id": f"cust_w{n}",
                    "items": [{"sku": f"S{i % 3}", "quantity": 1, "price_cents": 10}],
                },
                headers={"Authorization": f"Token {token}"},
                timeout=30,
            )
            assert response.status_code == 201, response.text
            order = response.json()["order_id"]
            if i % 4 == 0:
                assert (
                    session.post(
                        f"{stack.base_url}/api/orders/{order}/ship",
                        headers={"Authorization": f"Token {token}"},
                        timeout=30,
                    ).status_code
                    == 200
                )
            with lock:
                ids.append(order)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(ids) == 160
    wait_until(caught_up, 90, "the projections to catch up")
    count, _ = event_head()
    assert all(seen == count for _, seen in checkpoints().values())
    live = read_model_snapshot()
    assert {str(row[0]) for row in live["order_list"]} >= set(ids)
    assert live == rebuilt_snapshot()
    assert uuid.UUID(ids[0])


@pytest.mark.reservations
def test_fulfilment_through_the_worker_confirms_one_order_and_cancels_another_for_lack_of_stock(stack, token):
    """Placed, reserved, confirmed and shipped; and placed then cancelled as
    out of stock: each workflow under its own correlation id in the audit."""
    stack.start_worker()
    stack.start_beat()
    assert api(stack, token, "POST", "/api/inventory/WIDGET-A/receive", {"quantity": 5}).status_code == 200

    def place_with(correlation, quantity):
        placed = place(
            stack, token, "cust_saga", quantity=quantity, headers={"X-Correlation-ID": correlation}
        )
        return placed["order_id"]

    lucky = place_with("saga-lucky", 4)
    unlucky = place_with("saga-unlucky", 3)

    def status_of(order_id):
        return api(stack, token, "GET", f"/api/orders/{order_id}").json().get("status")

    wait_until(lambda: status_of(lucky) == "confirmed", 60, "the first order to be confirmed")
    wait_until(lambda: status_of(unlucky) == "cancelled", 60, "the second to be cancelled as out of stock")
    detail = api(stack, token, "GET", f"/api/orders/{unlucky}").json()
    assert detail["cancel_reason"] == "out of stock: WIDGET-A (wanted 3, 1 available)"

    shipped = api(stack, token, "POST", f"/api/orders/{lucky}/ship", {"carrier": "DHL"})
    assert shipped.status_code == 200, shipped.text
    wait_until(caught_up, 60, "every projection to reach the head")
    levels = {r["sku"]: r for r in api(stack, token, "GET", "/api/inventory/").json()["results"]}
    assert (levels["WIDGET-A"]["on_hand"], levels["WIDGET-A"]["reserved"]) == (1, 0)

    def trace(correlation):
        from eventstore.models import Event

        return [
            e.event_type
            for e in Event.objects.filter(metadata__correlation_id=correlation).order_by("position")
        ]

    assert trace("saga-lucky") == ["OrderPlaced", "StockReserved", "OrderConfirmed"]
    assert trace("saga-unlucky") == ["OrderPlaced", "ReservationRefused", "OrderCancelled"]
    assert [e.event_type for e in EventStore().load(inventory_id("WIDGET-A"))] == [
        "StockReceived",
        "StockReserved",
        "ReservationRefused",
        "StockShipped",
    ]

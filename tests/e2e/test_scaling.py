"""Beyond one machine, with the real components: the app, its workers and
the fulfilment process through PgBouncer in transaction pooling mode; and a
partitioned projection advanced by three workers, one of them killed while
it works."""

import subprocess

import pytest
import requests
from django.db import connection

from projections.base import registry
from tests.e2e.conftest import BIN, ROOT, Stack
from tests.pgbouncer import pgbouncer  # noqa: F401 (a fixture)
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
def shop_catalogue(transactional_db):
    """The catalogue sells what these tests order, at the prices they state."""
    stock_catalogue(
        [
            ("WIDGET-A", 1, 999),
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


def caught_up() -> bool:
    _, head = event_head()
    cps = checkpoints()
    names = {f.name for f in registry.all()}
    return names <= cps.keys() and all(cps[name][0] == head for name in names)


@pytest.fixture
def bare_stack(transactional_db, redis_server, tmp_path, settings):
    """A stack the test configures before starting its processes."""
    settings.PROJECTIONS_MODE = "off"
    logdir = tmp_path / "logs"
    logdir.mkdir()
    running = Stack(redis_server, logdir, beat_seconds=0.5)
    try:
        yield running
    finally:
        running.stop()
        print(running.logs())


def test_commands_projections_and_the_saga_work_through_pgbouncer_with_two_workers(
    bare_stack,
    pgbouncer,  # noqa: F811
    token,
    settings,
):
    stack = bare_stack
    db = settings.DATABASES["default"]
    stack.env.update(
        DATABASE_URL=pgbouncer.url(db["NAME"]),
        DATABASE_DIRECT_URL=stack.env["DATABASE_URL"],  # rebuilds and migrations: a session of their own
        DATABASE_PREPARED_STATEMENTS="false",  # this PgBouncer is older than 1.21
        DB_IDLE_IN_TRANSACTION_TIMEOUT="0",  # PgBouncer refuses the libpq option
        CONN_MAX_AGE="60",
        PROJECTION_BATCH_SIZE="50",
    )
    stack.reservations(True)
    stack.start_web()
    stack.start_worker()
    stack.start_worker()
    stack.start_beat()
    assert api(stack, token, "POST", "/api/inventory/WIDGET-A/receive", {"quantity": 30}).status_code == 200

    def place(quantity):
        body = {
            "customer_id": "cust_pool",
            "items": [{"sku": "WIDGET-A", "quantity": quantity, "price_cents": 999}],
        }
        response = api(stack, token, "POST", "/api/orders/", body)
        assert response.status_code == 201, response.text
        return response.json()

    placed = [place(2) for _ in range(12)]  # 24 of 30 units
    refused = place(10)  # more than is left
    last = api(
        stack,
        token,
        "POST",
        f"/api/orders/{placed[0]['order_id']}/items",
        {"sku": "WIDGET-A", "quantity": 1, "price_cents": 999},
    )
    assert last.status_code == 200, last.text
    # Read-your-writes through the pooler.
    read = api(
        stack,
        token,
        "GET",
        f"/api/orders/{placed[0]['order_id']}",
        headers={"X-Min-Position": last.json()["consistency_token"]},
    )
    assert read.status_code == 200 and read.json()["version"] >= last.json()["version"], read.text

    def status_of(order_id):
        return api(stack, token, "GET", f"/api/orders/{order_id}").json().get("status")

    wait_until(
        lambda: all(status_of(p["order_id"]) == "confirmed" for p in placed), 90, "the saga to confirm"
    )
    wait_until(lambda: status_of(refused["order_id"]) == "cancelled", 60, "the saga to refuse the big order")
    shipped = api(stack, token, "POST", f"/api/orders/{placed[1]['order_id']}/ship", {"carrier": "DHL"})
    assert shipped.status_code == 200, shipped.text
    wait_until(caught_up, 90, "every projection to reach the head")
    levels = {r["sku"]: r for r in api(stack, token, "GET", "/api/inventory/").json()["results"]}
    assert (levels["WIDGET-A"]["on_hand"], levels["WIDGET-A"]["reserved"]) == (28, 23)
    # A management command through the pooler; the rebuild on the direct URL.
    for args in (["projections", "status"], ["projections", "rebuild", "--all"]):
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    wait_until(caught_up, 60, "every projection to reach the head")
    live = read_model_snapshot()
    assert live == rebuilt_snapshot()
    assert pgbouncer.transactions(db["NAME"]) > 200  # the app's traffic went through the pooler
    assert "prepared statement" not in pgbouncer.log().lower()


def test_three_workers_share_a_partitioned_projection_and_one_killed_mid_batch_changes_nothing(
    bare_stack, token, settings
):
    from tests.e2e.test_celery_projections import write_orders_directly

    stack = bare_stack
    settings.PROJECTION_PARTITIONS = {"order_list": 3}
    stack.env.update(
        PROJECTION_PARTITIONS="order_list=3",
        PROJECTION_FOLLOWERS="3",
        PROJECTION_BATCH_SIZE="20",
    )
    stack.start_web()
    write_orders_directly(600, seed=5)  # a backlog: every worker has work at once
    workers = [stack.start_worker() for _ in range(3)]
    stack.start_beat()
    parts = [f"order_list.{k}of3" for k in range(3)]

    def advanced_by_several() -> bool:
        cps = checkpoints()
        return sum(1 for name in parts if cps.get(name, (0, 0))[1] > 0) >= 2

    wait_until(advanced_by_several, 60, "the partitions to advance")
    stack.kill(workers[0])  # mid-batch: its transaction dies with it
    write_orders_directly(100, seed=6)
    wait_until(caught_up, 120, "the other workers to take over and reach the head")
    count, _ = event_head()
    cps = checkpoints()
    assert all(cps[name][1] == count for name in parts)  # each passed every event once
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(events_applied) FROM projection_checkpoints WHERE name LIKE 'order_list.%%'"
        )
        (applied,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM events WHERE aggregate_type = 'Order'")
        (order_events,) = cursor.fetchone()
    assert applied == order_events  # applied exactly once across the partitions
    live = read_model_snapshot()
    assert live == rebuilt_snapshot()

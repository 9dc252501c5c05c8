"""GET /metrics: who may read it, and the counters a command, a refused
command, a projection run, a failing event, a Celery task and a rebuild
move (the exposition text parsed with prometheus_client's parser)."""

import re
import uuid
from pathlib import Path

import pytest
from django.test import Client

from orders import commands
from orders.repository import OrderRepository
from projections import failures, rebuild
from projections.base import registry
from projections.tasks import run_projections
from tests.integration.observability.conftest import METRICS_TOKEN, hold, moved
from tests.integration.projections.support import readable
from tests.support import (
    LINE_A,
    LINE_B,
    ApiClient,
    catalogue_event_count,
    last_position,
    login,
    metric_key,
    place_order,
    settle,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalogue")]

ROOT = Path(__file__).resolve().parents[3]

READ_MODELS = ("customer_summary", "daily_sales", "inventory", "order_list")


def test_the_metrics_need_the_token_a_staff_session_or_an_allowed_address(settings, reader, staff):
    settings.METRICS_TOKEN = "s3cret"
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert login(reader).get("/metrics").status_code == 403
    assert login(staff).get("/metrics").status_code == 200

    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.1/32"]
    assert Client().get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 401


def test_with_no_token_configured_an_empty_bearer_token_is_refused(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_a_command_counts_once_as_ok_with_its_latency_and_the_events_it_appended(scrape, manager):
    before = scrape()
    ApiClient(manager).place("cust_m", [LINE_A])
    after = scrape()
    assert moved(before, after, "orders_commands_total", command="PlaceOrder", outcome="ok") == 1
    assert moved(before, after, "orders_command_duration_seconds_count", command="PlaceOrder") == 1
    assert (
        moved(before, after, "orders_command_duration_seconds_bucket", command="PlaceOrder", le="+Inf") == 1
    )
    assert moved(before, after, "eventstore_appends_total", aggregate_type="Order") == 1
    assert moved(before, after, "eventstore_events_appended_total", event_type="OrderPlaced") == 1
    assert after[metric_key("eventstore_last_position")] == last_position()


def test_refused_commands_count_by_outcome_and_append_nothing(scrape, manager, placed_order_id):
    api = ApiClient(manager)
    before = scrape()
    assert api.post(f"/api/orders/{placed_order_id}/items", LINE_B, {"If-Match": '"7"'}).status_code == 412
    assert api.post(f"/api/orders/{uuid.uuid4()}/ship").status_code == 404
    assert api.post(f"/api/orders/{placed_order_id}/cancel", {"reason": "changed mind"}).status_code == 200
    assert api.post(f"/api/orders/{placed_order_id}/ship").status_code == 409
    assert api.post("/api/products/NO-SUCH-9/price", {"price_cents": 100}).status_code == 404
    after = scrape()
    assert moved(before, after, "orders_commands_total", command="AddItem", outcome="conflict") == 1
    assert moved(before, after, "orders_commands_total", command="ShipOrder", outcome="not_found") == 1
    price = {"command": "ChangeProductPrice", "outcome": "not_found"}
    assert moved(before, after, "orders_commands_total", **price) == 1  # not "rejected"
    assert moved(before, after, "orders_commands_total", command="CancelOrder", outcome="ok") == 1
    assert moved(before, after, "orders_commands_total", command="ShipOrder", outcome="rejected") == 1
    assert moved(before, after, "orders_command_duration_seconds_count", command="ShipOrder") == 2
    assert moved(before, after, "eventstore_appends_total", aggregate_type="Order") == 1  # the cancel only
    assert moved(before, after, "eventstore_events_appended_total", event_type="OrderCancelled") == 1
    assert moved(before, after, "eventstore_events_appended_total", event_type="OrderShipped") == 0


def test_an_idempotent_replay_is_counted_and_appends_nothing(scrape, manager):
    api = ApiClient(manager)
    before = scrape()
    first = api.place("cust_i", [LINE_A], headers={"Idempotency-Key": "k-1"})
    again = api.place("cust_i", [LINE_A], headers={"Idempotency-Key": "k-1"})
    assert first == again
    after = scrape()
    assert moved(before, after, "orders_commands_total", command="PlaceOrder", outcome="ok") == 1
    assert moved(before, after, "orders_commands_total", command="PlaceOrder", outcome="replayed") == 1
    assert moved(before, after, "orders_idempotent_replays_total", command="PlaceOrder") == 1
    assert moved(before, after, "eventstore_events_appended_total", event_type="OrderPlaced") == 1


@pytest.mark.postgres
def test_a_race_lost_to_another_writer_is_counted_as_a_retry(
    scrape, placed_order_id, monkeypatch, run_in_threads
):
    """Another writer appends to the order between this command's load and
    its append: the append is refused and the command retried on fresh state."""
    real_save = OrderRepository.save
    raced = []

    def save(self, aggregate):
        if not raced:
            raced.append(True)
            run_in_threads(lambda: commands.execute(commands.AddItem(placed_order_id, "BOLT-7", 1, 25)))
        return real_save(self, aggregate)

    monkeypatch.setattr(OrderRepository, "save", save)
    before = scrape()
    result = commands.execute(commands.AddItem(placed_order_id, "NUT-8", 1, 10))
    after = scrape()
    assert result.version == 3  # placed, BOLT-7 by the other writer, then this one
    assert moved(before, after, "orders_command_retries_total", command="AddItem") == 1
    assert moved(before, after, "orders_commands_total", command="AddItem", outcome="ok") == 2


@pytest.mark.postgres
def test_a_projection_run_moves_its_counters_and_its_position_and_lag(scrape):
    settle()  # the catalogue the orders are priced from, projected before them
    place_order("cust_1")
    place_order("cust_2")
    readable()
    before = scrape()
    for name in READ_MODELS:
        assert before[metric_key("projection_lag_events", projection=name, partition="0")] == 2
    settle()
    after = scrape()
    for name in READ_MODELS:
        labels = {"projection": name, "partition": "0"}
        assert moved(before, after, "projection_events_processed_total", **labels) == 2
        assert moved(before, after, "projection_batch_duration_seconds_count", **labels) >= 1
        assert after[metric_key("projection_position", **labels)] == last_position()
        assert after[metric_key("projection_lag_events", **labels)] == 0
        assert after[metric_key("projection_lag_seconds", **labels)] == 0
        assert after[metric_key("projection_failures_held", **labels)] == 0
    assert (
        moved(before, after, "projection_events_applied_total", projection="order_list", partition="0") == 2
    )
    assert after[metric_key("projections_ready")] == 1


@pytest.mark.postgres
def test_each_partition_of_a_partitioned_projection_has_its_own_series(scrape, settings):
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    settle()
    placed = [place_order(f"cust_{n}").order_id for n in range(6)]
    readable()
    before = scrape()
    settle()
    after = scrape()
    parts = {"0of2": 0, "1of2": 0}
    for order_id in placed:
        parts[f"{order_id.int % 2}of2"] += 1
    for part, orders in parts.items():
        labels = {"projection": "order_list", "partition": part}
        assert before[metric_key("projection_lag_events", **labels)] == len(placed)  # it reads every event
        assert after[metric_key("projection_position", **labels)] == last_position()
        assert moved(before, after, "projection_events_processed_total", **labels) == len(placed)
        assert moved(before, after, "projection_events_applied_total", **labels) == orders  # its own
        assert moved(before, after, "projection_batch_duration_seconds_count", **labels) >= 1
    assert metric_key("projection_position", projection="order_list.0of2", partition="0") not in after
    whole = {"projection": "daily_sales", "partition": "0"}
    assert after[metric_key("projection_position", **whole)] == last_position()
    ready = Client().get("/readyz").json()["checks"]["projections"]["projections"]
    shown = {(p["name"], p["projection"], p["partition"]) for p in ready if p["projection"] == "order_list"}
    assert shown == {
        ("order_list.0of2", "order_list", "0of2"),
        ("order_list.1of2", "order_list", "1of2"),
    }


@pytest.mark.postgres
def test_a_failing_event_counts_each_attempt_and_the_held_projection_shows(
    scrape, break_projection, monkeypatch
):
    bad = place_order("mallory")
    break_projection("daily_sales", bad.order_id)
    before = scrape()
    hold(monkeypatch)
    after = scrape()
    held = {"projection": "daily_sales", "partition": "0"}
    assert moved(before, after, "projection_failures_total", **held) == failures.MAX_ATTEMPTS
    assert after[metric_key("projection_failures_held", **held)] == 1
    assert after[metric_key("projection_failures_held", projection="order_list", partition="0")] == 0
    assert after[metric_key("projection_lag_events", **held)] == 1
    assert after[metric_key("projections_ready")] == 0


@pytest.mark.postgres
def test_orders_waiting_for_stock_and_refused_reservations_are_shown(scrape, settings, manager):
    settings.INVENTORY_RESERVATION = True
    api = ApiClient(manager)
    assert api.post("/api/inventory/WIDGET-A/receive", {"quantity": 1}).status_code == 200
    api.place("cust_s", [LINE_A])  # 2 wanted, 1 in stock
    before = scrape()
    readable()
    from projections import runner

    runner.run_projection(registry.get("order_list"))  # the read model sees it placed; fulfilment not yet
    assert scrape()[metric_key("orders_awaiting_stock")] == 1
    settle()
    after = scrape()
    assert after[metric_key("orders_awaiting_stock")] == 0  # cancelled as out of stock
    assert moved(before, after, "fulfilment_reservations_refused_total") == 1
    assert moved(before, after, "orders_commands_total", command="CancelOrder", outcome="ok") == 1


def test_a_refusal_counts_even_when_it_rolls_its_transaction_back(scrape, placed_order_id):
    """A process manager held by a refused command is refused on every
    attempt, each rolled back: each attempt is counted (what an operator
    looks for), while work that was rolled back is not."""
    from django.db import transaction

    from orders.domain import DomainError

    commands.execute(commands.CancelOrder(placed_order_id, "changed mind"))
    before = scrape()
    with pytest.raises(DomainError), transaction.atomic():
        commands.execute(commands.AddNote(placed_order_id, "rolled back with the refusal below"))
        commands.execute(commands.ShipOrder(placed_order_id))
    after = scrape()
    assert moved(before, after, "orders_commands_total", command="ShipOrder", outcome="rejected") == 1
    assert moved(before, after, "orders_commands_total", command="AddNote", outcome="ok") == 0


@pytest.mark.postgres
def test_commands_rolled_back_with_a_process_run_are_counted_and_logged_once(
    scrape, json_log, settings, manager, monkeypatch
):
    """Two placements come to the fulfilment process in one run; the second
    fails after asking for its reservation, so the run is rolled back and
    its events taken one at a time. Only the reservation that committed is
    counted and logged, once, with its own order's correlation id."""
    from orders import fulfilment
    from orders.domain.events import OrderPlaced
    from projections import checkpoints, process_runner

    settings.INVENTORY_RESERVATION = True
    settings.PROJECTIONS_MODE = "off"  # both placements wait for one run
    api = ApiClient(manager)
    assert api.post("/api/inventory/WIDGET-A/receive", {"quantity": 10}).status_code == 200
    api.place("cust_g", [LINE_A], headers={"X-Correlation-ID": "corr-once-1"})
    bad = api.place("cust_b", [LINE_A], headers={"X-Correlation-ID": "corr-once-2"})
    real = fulfilment.REACTIONS[OrderPlaced]

    def fails_for_the_second(step, fact):
        real(step, fact)
        if str(step.order_id) == bad["order_id"]:
            raise RuntimeError("cannot reserve this one")

    monkeypatch.setitem(fulfilment.REACTIONS, OrderPlaced, fails_for_the_second)
    checkpoints.ensure()
    readable()
    before = scrape()
    result = process_runner.run_events(registry.get("fulfilment"))
    after = scrape()
    assert result.stopped == {"fulfilment"}  # held at the second placement
    assert moved(before, after, "orders_commands_total", command="ReserveStock", outcome="ok") == 1
    logged = [
        line
        for line in json_log()
        if line.get("command") == "ReserveStock" and line.get("logger") == "orders.commands"
    ]
    assert [(line["outcome"], line["correlation_id"]) for line in logged] == [("ok", "corr-once-1")]
    assert logged[0]["projection"] == "fulfilment"


def test_a_celery_task_run_is_counted_with_its_duration(scrape):
    before = scrape()
    run_projections.apply()
    after = scrape()
    task = "projections.tasks.run_projections"
    assert moved(before, after, "celery_task_runs_total", task=task, state="succeeded") == 1
    assert moved(before, after, "celery_task_duration_seconds_count", task=task) == 1


@pytest.mark.postgres
def test_a_rebuild_publishes_its_progress_while_it_runs(scrape):
    settle()  # the catalogue the orders are priced from (the rebuild reads its events too)
    for n in range(3):
        place_order(f"cust_{n}")
    readable()
    during = []
    rebuild.rebuild([registry.get("order_list")], progress=lambda done, total: during.append(scrape()))
    first = during[0]
    expected = 3 + catalogue_event_count()  # the whole log: the orders and the catalogue
    assert first[metric_key("projection_rebuild_events_expected", projection="order_list")] == expected
    assert metric_key("projection_rebuild_events_done", projection="order_list") in first
    assert metric_key("projection_rebuild_events_done", projection="order_list") not in scrape()


def test_every_metric_the_dashboard_the_alerts_and_the_readme_name_is_exposed(scrape):
    """The documentation and the dashboard name only metrics that exist."""
    from prometheus_client.parser import text_string_to_metric_families

    place_order("cust_1")  # so that labelled series have samples
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    exposed = {family.name for family in text_string_to_metric_families(response.content.decode())}
    names = re.compile(r"\b((?:orders|eventstore|projections?|fulfilment|celery|metrics)_[a-z_]+)\b")
    suffixes = re.compile(r"_(total|bucket|count|sum)$")
    for document in ("docs/grafana-dashboard.json", "docs/prometheus-alerts.yml", "README.md"):
        text = (ROOT / document).read_text()
        if document == "README.md":
            text = text[text.index("| metric | type |") : text.index("### The dashboard")]
        named = {suffixes.sub("", name) for name in names.findall(text)}
        assert named, document
        assert named - exposed == set(), document

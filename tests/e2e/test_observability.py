"""Observability of the running stack: the worker's metrics reach /metrics
(Prometheus multiprocess mode), a request's correlation id runs through the
web's and the worker's JSON log lines, and /readyz turns 503 when the worker
stops while events arrive, and 200 once one runs again."""

import os
import sys

import pytest
import requests

from tests.e2e.conftest import free_port
from tests.e2e.test_celery_projections import api, caught_up, place
from tests.support import STANDARD_CATALOGUE, metric_key, parse_metrics, stock_catalogue, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture(autouse=True)
def standard_catalogue(transactional_db):
    """The catalogue sells what these tests order (tests.support.STANDARD_CATALOGUE)."""
    stock_catalogue(STANDARD_CATALOGUE)


RUN_TASK = "projections.tasks.run_projections"


def readyz(stack) -> tuple[int, dict]:
    response = requests.get(f"{stack.base_url}/readyz", timeout=10)
    return response.status_code, response.json()


def test_the_workers_metrics_reach_the_web_in_multiprocess_mode(stack, token):
    stack.start_worker()
    place(stack, token)
    wait_until(caught_up, 30, "every projection to reach the head")
    assert requests.get(f"{stack.base_url}/metrics", timeout=10).status_code == 401

    def worker_reported():
        values = stack.metrics()
        return (
            values
            if values.get(metric_key("celery_task_runs_total", task=RUN_TASK, state="succeeded"))
            else None
        )

    values = wait_until(worker_reported, 30, "the worker's task runs in /metrics")
    order_list = {"projection": "order_list", "partition": "0"}
    # Counted only in the worker's process: the web only nudges in celery mode.
    assert values[metric_key("projection_events_applied_total", **order_list)] >= 1
    assert values[metric_key("projection_batch_duration_seconds_count", **order_list)] >= 1
    assert values[metric_key("celery_task_duration_seconds_count", task=RUN_TASK)] >= 1
    # Counted in the web's process.
    assert values[metric_key("orders_commands_total", command="PlaceOrder", outcome="ok")] == 1
    # And read from the database at the scrape.
    assert values[metric_key("projection_lag_events", **order_list)] == 0
    assert values[metric_key("projections_ready")] == 1
    pids = {name.rsplit("_", 1)[-1].removesuffix(".db") for name in os.listdir(stack.metrics_dir)}
    assert str(stack.workers[0].pid) in pids


def test_a_host_without_a_web_process_serves_its_workers_metrics_with_the_exporter(stack, token):
    stack.start_worker()
    place(stack, token)
    wait_until(caught_up, 30, "every projection to reach the head")
    port = free_port()
    exporter = stack.spawn("exporter", [sys.executable, "manage.py", "metrics_exporter", "--port", str(port)])

    def served():
        try:
            return parse_metrics(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        except requests.RequestException:
            return None

    values = wait_until(served, 30, "the exporter to serve")
    assert values[metric_key("celery_task_runs_total", task=RUN_TASK, state="succeeded")] >= 1
    assert values[metric_key("projection_events_applied_total", projection="order_list", partition="0")] >= 1
    stack.kill(exporter)


@pytest.mark.reservations
def test_a_requests_correlation_id_runs_through_the_web_and_worker_logs(stack, token):
    stack.start_worker()
    assert api(stack, token, "POST", "/api/inventory/WIDGET-A/receive", {"quantity": 5}).status_code == 200
    placed = place(stack, token, "cust_logs", headers={"X-Correlation-ID": "e2e-corr-logs"})

    def confirmed():
        return (
            api(stack, token, "GET", f"/api/orders/{placed['order_id']}").json().get("status") == "confirmed"
        )

    wait_until(confirmed, 60, "the order to be confirmed by the worker")
    web = [line for line in stack.log_lines("web") if line.get("correlation_id") == "e2e-corr-logs"]
    assert {(line["logger"], line.get("command"), line.get("status")) for line in web} >= {
        ("config.requests", "PlaceOrder", 201),  # one line per request, with its command's outcome
    }
    assert all(line["process"] == "web" for line in web)

    def worker_lines():
        lines = [line for line in stack.log_lines("worker0") if line.get("correlation_id") == "e2e-corr-logs"]
        commands = {line.get("command") for line in lines}
        return lines if {"ReserveStock", "ConfirmOrder"} <= commands else None

    worker = wait_until(worker_lines, 30, "the worker's lines for the order")
    handled = {line["event_type"] for line in worker if line["logger"] == "projections.process_runner"}
    assert {"OrderPlaced", "StockReserved"} <= handled
    assert all(line["process"] == "worker" and line["task"] == RUN_TASK for line in worker)


def test_not_ready_when_the_worker_stops_while_events_arrive_and_ready_when_one_runs_again(stack, token):
    worker = stack.start_worker()
    stack.start_beat()
    place(stack, token)
    wait_until(caught_up, 30, "every projection to reach the head")
    assert readyz(stack)[0] == 200

    stack.kill(worker)
    place(stack, token, "cust_while_stopped")

    def not_ready():
        status, body = readyz(stack)
        return body if status == 503 else None

    bound = stack.LAG_ALERT_SECONDS
    body = wait_until(not_ready, bound + 30, f"/readyz to say not ready once events wait over {bound} s")
    assert (
        body["status"] == "not ready" and body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    )
    assert any(reason.startswith("order_list has 1 event(s) waiting") for reason in body["reasons"])
    assert all(reason.endswith(f"(over {bound} s)") for reason in body["reasons"])

    stack.start_worker()
    wait_until(lambda: readyz(stack)[0] == 200, 60, "/readyz to be ready once a worker runs again")

"""Structured logs: a command's lines carry its correlation id and user, a
process manager's lines carry the correlation id of the event it handles,
and a failure that holds a projection is logged once (retries lower)."""

import json

import pytest
from django.db import connection

from projections import failures, runner
from projections.models import ProjectionFailure
from tests.integration.observability.conftest import hold
from tests.integration.projections.support import catch_up, events
from tests.integration.test_personal_data import ADA, columns_holding, place
from tests.support import LINE_A, ApiClient, login, place_order, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_that_runs_a_command_is_one_line_with_the_commands_outcome(json_log, manager):
    placed = ApiClient(manager).place("cust_log", [LINE_A], headers={"X-Correlation-ID": "corr-log-1"})
    mine = [line for line in json_log() if line.get("correlation_id") == "corr-log-1"]
    [request] = mine  # the command's fields are on the request's line, not a line of their own
    assert (request["logger"], request["level"]) == ("config.requests", "info")
    assert (request["method"], request["path"], request["status"]) == ("POST", "/api/orders/", 201)
    assert (request["command"], request["outcome"]) == ("PlaceOrder", "ok")
    assert (request["aggregate_id"], request["version"]) == (placed["order_id"], 1)
    assert request["position"] == placed["position"]
    assert request["user_id"] == str(manager.pk)
    assert 0 <= request["command_ms"] <= request["duration_ms"]
    assert {"timestamp", "level", "logger", "message", "process"} <= request.keys()


def test_a_form_that_went_past_a_change_is_one_line_with_how_it_ended(json_log, manager):
    order = place_order("cust_log_past", user=manager).order_id  # the page is drawn at version 1
    item = {"sku": "WIDGET-A", "quantity": 1, "price_cents": 1999}
    ApiClient(manager).post(f"/api/orders/{order}/items", item)  # then the order moves on

    login(manager).post(
        f"/orders/{order}/note", {"version": "1", "text": "gift"}, headers={"X-Correlation-ID": "corr-log-4"}
    )

    mine = [line for line in json_log() if line.get("correlation_id") == "corr-log-4"]
    [request] = mine  # the refused first try and the one that went through: one line, as it ended
    assert (request["command"], request["outcome"], request["status"]) == ("AddNote", "ok", 302)
    assert (request["attempts"], request["version"]) == (2, 3) and "reason" not in request


def test_a_page_refused_to_a_user_is_one_warning_without_a_traceback(json_log, reader):
    assert login(reader).get("/audit/").status_code == 403
    [refused] = [line for line in json_log() if line["logger"] == "django.request"]
    assert refused["level"] == "warning" and "/audit/" in refused["message"]
    assert "exception" not in refused and "Traceback" not in json.dumps(refused)


def test_a_command_run_outside_a_request_logs_its_own_line(json_log):
    placed = place_order("cust_log_cli", correlation="corr-log-3")
    mine = [line for line in json_log() if line.get("correlation_id") == "corr-log-3"]
    [command] = [line for line in mine if line.get("command") == "PlaceOrder"]
    assert (command["logger"], command["command"], command["outcome"]) == (
        "orders.commands",
        "PlaceOrder",
        "ok",
    )
    assert command["aggregate_id"] == str(placed.order_id) and command["duration_ms"] >= 0


def test_a_refused_command_is_logged_with_its_outcome(json_log, manager, placed_order_id):
    api = ApiClient(manager)
    api.post(f"/api/orders/{placed_order_id}/cancel", {"reason": "no"}, {"X-Correlation-ID": "corr-log-2"})
    api.post(f"/api/orders/{placed_order_id}/ship", headers={"X-Correlation-ID": "corr-log-2"})
    outcomes = [
        (line["command"], line["outcome"], line["status"], line.get("reason", ""))
        for line in json_log()
        if line.get("correlation_id") == "corr-log-2"
    ]
    assert outcomes[0] == ("CancelOrder", "ok", 200, "")
    assert outcomes[1][:3] == ("ShipOrder", "rejected", 409) and "cancelled" in outcomes[1][3]
    assert len(outcomes) == 2


@pytest.mark.usefixtures("catalogue")  # stock is received for products of the catalogue
@pytest.mark.postgres
def test_the_process_managers_lines_for_an_event_carry_its_correlation_id(json_log, settings, manager):
    settings.INVENTORY_RESERVATION = True
    api = ApiClient(manager)
    assert api.post("/api/inventory/WIDGET-A/receive", {"quantity": 5}).status_code == 200
    placed = api.place("cust_saga", [LINE_A], headers={"X-Correlation-ID": "corr-saga-1"})
    settle()
    mine = [line for line in json_log() if line.get("correlation_id") == "corr-saga-1"]
    handled = [line["event_type"] for line in mine if line["logger"] == "projections.process_runner"]
    assert handled[:2] == ["OrderPlaced", "StockReserved"]
    issued = {line["command"]: line for line in mine if "command" in line and "outcome" in line}
    assert {"PlaceOrder", "ReserveStock", "ConfirmOrder"} <= issued.keys()
    assert issued["PlaceOrder"]["logger"] == "config.requests"  # the request's line
    assert issued["ConfirmOrder"]["logger"] == "orders.commands"  # the worker's own
    assert issued["ConfirmOrder"]["user_id"] == "system:fulfilment"
    assert issued["ConfirmOrder"]["aggregate_id"] == placed["order_id"]
    assert issued["ReserveStock"]["projection"] == "fulfilment"


@pytest.mark.usefixtures("catalogue")  # stock is received for products of the catalogue
@pytest.mark.postgres
def test_lines_for_events_handled_in_one_run_carry_each_events_correlation_id(json_log, settings, manager):
    settings.INVENTORY_RESERVATION = True
    settings.PROJECTIONS_MODE = "off"  # both orders wait, then the process manager takes them in one run
    api = ApiClient(manager)
    assert api.post("/api/inventory/WIDGET-A/receive", {"quantity": 5}).status_code == 200
    for n in (1, 2):
        api.place("cust_saga", [LINE_A], headers={"X-Correlation-ID": f"corr-run-{n}"})
    runner.run_all()
    for n in (1, 2):
        mine = [line for line in json_log() if line.get("correlation_id") == f"corr-run-{n}"]
        handled = [line["event_type"] for line in mine if line["logger"] == "projections.process_runner"]
        assert handled[:2] == ["OrderPlaced", "StockReserved"], n


@pytest.mark.postgres
def test_a_failure_that_holds_a_projection_is_logged_once_and_its_retries_lower(
    json_log, break_projection, monkeypatch
):
    bad = place_order("mallory", correlation="corr-poison")
    break_projection("daily_sales", bad.order_id)
    poison = next(e for e in events() if e.aggregate_id == bad.order_id)
    hold(monkeypatch)
    for _ in range(3):
        catch_up()
        runner.run_all()
    lines = [
        line
        for line in json_log()
        if line["logger"] == "projections.failures" and line.get("projection") == "daily_sales"
    ]
    assert [line["level"] for line in lines] == ["warning", "info", "info", "info", "error"]
    held = lines[-1]
    assert (held["event_position"], held["event_type"], held["attempts"]) == (
        poison.position,
        "OrderPlaced",
        5,
    )
    assert held["error"] == f"RuntimeError: cannot project order {bad.order_id}"
    assert held["correlation_id"] == "corr-poison"
    assert "held" in held["message"]


def test_an_email_in_a_query_string_is_never_logged(json_log, manager):
    page = login(manager).get("/orders/", {"customer_email": "someone@example.com", "status": "bogus"})
    missing = login(manager).get("/customers/nobody/", {"email": "someone@example.com"})
    api = ApiClient(manager).get("/api/orders/", customer_email="someone@example.com", status="bogus")

    assert (page.status_code, missing.status_code, api.status_code) == (400, 404, 400)
    lines = json_log()
    django_lines = {(ln["message"], ln["request"]) for ln in lines if ln["logger"] == "django.request"}
    assert django_lines == {
        ("Bad Request: /orders/", "GET /orders/"),
        ("Not Found: /customers/nobody/", "GET /customers/nobody/"),
        ("Bad Request: /api/orders/", "GET /api/orders/"),
    }
    assert "someone" not in json.dumps(lines)


@pytest.fixture
def shipping_refuses_ada():
    """A read model that refuses Ada's row, as PostgreSQL refuses one: the
    error's DETAIL quotes the whole row ("Failing row contains (...)")."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE order_shipping ADD CONSTRAINT test_refuses_ada CHECK (city <> 'Marylebone')"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE order_shipping DROP CONSTRAINT IF EXISTS test_refuses_ada")


@pytest.mark.postgres
@pytest.mark.usefixtures("catalogue")
def test_a_failure_on_personal_data_is_recorded_and_logged_without_it(
    json_log, monkeypatch, staff, shipping_refuses_ada
):
    place(ApiClient(staff), "cust_ada", ADA)
    hold(monkeypatch)

    held = ProjectionFailure.objects.get(projection="shipping_details", resolved_at=None)
    assert held.attempts == failures.MAX_ATTEMPTS
    assert held.error == (
        'IntegrityError: new row for relation "order_shipping" violates check constraint "test_refuses_ada"'
    )
    assert "CheckViolation" in held.traceback and "The above exception was the direct cause" in held.traceback
    ada = ["Ada Lovelace", "Marylebone", "Analytical Engine", "N1 9GU", "Failing row"]
    assert columns_holding(ada) == []  # projection_failures included
    logged = json.dumps([line for line in json_log() if line["logger"] == "projections.failures"])
    assert "test_refuses_ada" in logged and not [text for text in ada if text in logged]

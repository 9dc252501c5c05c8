"""With PROJECTIONS_MODE=inprocess (the default without REDIS_URL, i.e.
`make run` on one box) the fulfilment process's commands run after the
request's commit, inside the request: the request's line still carries the
command the request ran, and theirs are lines of their own."""

import pytest

from tests.support import LINE_A, ApiClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalogue")]


def test_a_request_line_carries_its_own_command_when_process_managers_run_in_process(
    json_log, settings, manager
):
    settings.PROJECTIONS_MODE = "inprocess"
    settings.INVENTORY_RESERVATION = True
    api = ApiClient(manager)
    assert api.post("/api/inventory/WIDGET-A/receive", {"quantity": 5}).status_code == 200
    placed = api.place("cust_inproc", [LINE_A], headers={"X-Correlation-ID": "corr-inproc-1"})
    mine = [line for line in json_log() if line.get("correlation_id") == "corr-inproc-1"]
    [request] = [line for line in mine if line["logger"] == "config.requests"]
    assert (request["command"], request["aggregate_id"]) == ("PlaceOrder", placed["order_id"])
    own = {line["command"] for line in mine if line["logger"] == "orders.commands"}
    assert "PlaceOrder" not in own and {"ReserveStock", "ConfirmOrder"} <= own

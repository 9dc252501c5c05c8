"""Read-your-writes: a read with X-Min-Position waits until the read model
holds that command's event; 503 with Retry-After when it does not in time;
400 for a malformed or unknown position; X-Projection-Position on every
answer."""

import time
import uuid

import pytest

from projections import runner
from tests.support import (
    LINE_A,
    LINE_B,
    assert_problem,
    last_position,
    other_connection,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_x_min_position_makes_the_read_wait_for_the_command(staff_api, settings, run_in_threads):
    settings.PROJECTIONS_MODE = "off"  # nothing projects until the thread below runs
    placed = staff_api.place("cust_ryw")
    oid = placed["order_id"]
    stale = staff_api.get(f"/api/orders/{oid}", settle_first=False)
    assert_problem(stale, 404, "order-not-found")  # not projected yet

    def project_later():
        time.sleep(0.3)
        return runner.run_all()

    started = time.monotonic()
    reads: dict = {}

    def read():
        reads["detail"] = staff_api.get(
            f"/api/orders/{oid}", headers={"X-Min-Position": str(placed["position"])}, settle_first=False
        )
        return time.monotonic() - started

    waited, _ = run_in_threads(read, project_later)
    response = reads["detail"]
    assert response.status_code == 200, response.content
    assert waited >= 0.3
    assert response.json()["status"] == "placed"
    assert int(response["X-Projection-Position"]) >= placed["position"]


@pytest.mark.usefixtures("catalogue")
def test_reads_with_a_commands_position_show_that_command(staff_api):
    oid = staff_api.place("cust_ryw2", [LINE_A])["order_id"]
    added = staff_api.post(f"/api/orders/{oid}/items", LINE_B).json()
    detail = staff_api.get(f"/api/orders/{oid}", headers={"X-Min-Position": str(added["position"])})
    assert detail.status_code == 200 and detail["ETag"] == '"2"'
    assert [i["sku"] for i in detail.json()["items"]] == ["WIDGET-A", "GADGET-B"]
    shipped = staff_api.post(f"/api/orders/{oid}/ship").json()
    listed = staff_api.get(
        "/api/orders/", customer_id="cust_ryw2", headers={"X-Min-Position": f" {shipped['position']} "}
    )
    assert listed.status_code == 200
    assert int(listed["X-Projection-Position"]) >= shipped["position"]
    assert [r["status"] for r in listed.json()["results"]] == ["shipped"]


def test_x_min_position_not_reached_in_time_is_503_with_retry_after(staff_api, settings):
    settings.PROJECTIONS_MODE = "off"
    settings.READ_YOUR_WRITES_TIMEOUT = 0.1
    placed = staff_api.place("cust_lag")
    response = staff_api.get(
        f"/api/orders/{placed['order_id']}",
        headers={"X-Min-Position": str(placed["position"])},
        settle_first=False,
    )
    assert_problem(response, 503, "projection-lagging")
    assert response["Retry-After"] == "1"
    listed = staff_api.get(
        "/api/orders/", headers={"X-Min-Position": str(placed["position"])}, settle_first=False
    )
    assert_problem(listed, 503, "projection-lagging")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "0x10", "1e3", "1 2", str(2**62 + 1), str(2**64)])
def test_a_malformed_x_min_position_is_a_400_problem(staff_api, value):
    for path in ("/api/orders/", f"/api/orders/{uuid.uuid4()}"):
        assert_problem(staff_api.get(path, headers={"X-Min-Position": value}), 400, "invalid-min-position")


@pytest.mark.django_db
def test_a_superscript_digit_x_min_position_is_a_400_problem(staff_api):
    response = staff_api.get(f"/api/orders/{uuid.uuid4()}", headers={"X-Min-Position": "²"})
    assert_problem(response, 400, "invalid-min-position")


def test_an_unknown_x_min_position_is_a_400_problem(staff_api, settings):
    settings.READ_YOUR_WRITES_TIMEOUT = 0.2
    oid = staff_api.place("cust_unknownpos")["order_id"]
    unknown = str(last_position() + 1000)
    assert_problem(staff_api.get(f"/api/orders/{oid}", headers={"X-Min-Position": unknown}), 400)


def test_the_404_and_503_of_a_read_answer_x_projection_position_too(staff_api, settings):
    settings.PROJECTIONS_MODE = "off"
    settings.READ_YOUR_WRITES_TIMEOUT = 0.1
    placed = staff_api.place("cust_header")
    missing = staff_api.get(f"/api/orders/{placed['order_id']}", settle_first=False)
    assert_problem(missing, 404, "order-not-found")
    # The read model has not reached the order (only the catalogue set up before it).
    assert int(missing.get("X-Projection-Position")) < placed["position"]
    lagging = staff_api.get(
        "/api/orders/", headers={"X-Min-Position": str(placed["position"])}, settle_first=False
    )
    assert_problem(lagging, 503, "projection-lagging")
    assert int(lagging.get("X-Projection-Position")) < placed["position"]


def test_inprocess_projection_survives_another_transaction_open_at_commit(staff_api, settings):
    settings.READ_YOUR_WRITES_TIMEOUT = 0.5
    staff_api.get("/api/orders/")  # caught up
    with other_connection() as blocker:
        blocker.execute("SELECT pg_current_xact_id()")  # an open transaction with an id
        placed = staff_api.place("cust_blocked")  # committed; its in-process run sees nothing yet
        blocker.rollback()
    response = staff_api.get(
        f"/api/orders/{placed['order_id']}",
        headers={"X-Min-Position": str(placed["position"])},
        settle_first=False,
    )
    assert response.status_code == 200, response.content

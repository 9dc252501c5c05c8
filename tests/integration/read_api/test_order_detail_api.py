"""GET /api/orders/{id}: the order with its lines and an ETag, agreeing with
its list row; 404 for an unknown or malformed id; any signed-in user may
read, nobody else."""

import uuid
from datetime import datetime

import pytest

from tests.integration.read_api.support import ROW_FIELDS, line
from tests.support import (
    LINE_A,
    LINE_B,
    ApiClient,
    assert_problem,
    last_position,
    login,
    stock_catalogue,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def item(sku: str, quantity: int, price: int) -> dict:
    """An item of the detail: a line still on the order, at the catalogue's price."""
    return {
        "sku": sku,
        "quantity": quantity,
        "price_cents": price,
        "line_total_cents": quantity * price,
        "catalogue_price_cents": price,
        "price_override_reason": None,
        "status": "active",
        "rejected_quantity": 0,
        "rejection_reason": None,
    }


def test_detail_has_the_order_its_lines_and_an_etag(staff_api):
    stock_catalogue([("NEW-C", 4, 250)])
    placed = staff_api.place("cust_detail", [LINE_A, LINE_B])
    oid = placed["order_id"]
    assert staff_api.post(f"/api/orders/{oid}/items", {**LINE_A, "quantity": 3}).status_code == 200
    assert staff_api.post(f"/api/orders/{oid}/items", line(250, sku="NEW-C", quantity=4)).status_code == 200
    shipped = staff_api.post(f"/api/orders/{oid}/ship", {"carrier": "DHL", "tracking_number": "JD01"}).json()

    response = staff_api.get(f"/api/orders/{oid}")
    assert response.status_code == 200
    assert response["ETag"] == '"4"'
    assert int(response["X-Projection-Position"]) == last_position() == shipped["position"]
    body = response.json()
    assert set(body) >= ROW_FIELDS | {
        "items",
        "cancel_reason",
        "carrier",
        "tracking_number",
        "last_position",
        "updated_at",
    }
    assert body["order_id"] == oid and body["customer_id"] == "cust_detail"
    assert body["status"] == "shipped" and body["version"] == 4
    assert body["items"] == [
        item("WIDGET-A", 5, 1999),
        item("GADGET-B", 1, 500),
        item("NEW-C", 4, 250),
    ]
    assert body["rejected_items"] == []
    assert body["total_cents"] == sum(i["line_total_cents"] for i in body["items"]) == 11495
    assert body["line_count"] == 3 and body["item_count"] == 10
    assert body["carrier"] == "DHL" and body["tracking_number"] == "JD01"
    assert body["cancel_reason"] is None and body["cancelled_at"] is None
    assert body["last_position"] == shipped["position"]
    placed_at, shipped_at = (datetime.fromisoformat(body[k]) for k in ("placed_at", "shipped_at"))
    assert placed_at < shipped_at <= datetime.fromisoformat(body["updated_at"])

    # The list row agrees with the detail.
    [row] = staff_api.orders(customer_id="cust_detail")["results"]
    assert row == {k: body[k] for k in ROW_FIELDS}


def test_detail_of_a_cancelled_order_has_its_reason_and_only_the_lines_left(staff_api):
    oid = staff_api.place("cust_cancelled", [LINE_A, LINE_B])["order_id"]
    assert staff_api.delete(f"/api/orders/{oid}/items/WIDGET-A").status_code == 200
    assert staff_api.post(f"/api/orders/{oid}/cancel", {"reason": "too slow"}).status_code == 200
    response = staff_api.get(f"/api/orders/{oid}")
    assert response["ETag"] == '"3"'
    body = response.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "too slow"
    assert body["cancelled_at"] is not None and body["shipped_at"] is None
    assert body["carrier"] is None and body["tracking_number"] is None
    assert body["items"] == [item("GADGET-B", 1, 500)]
    assert body["total_cents"] == 500 and body["line_count"] == 1


@pytest.mark.django_db
def test_unknown_order_is_a_404_problem_and_a_malformed_id_too(staff_api):
    missing = uuid.uuid4()
    body = assert_problem(staff_api.get(f"/api/orders/{missing}"), 404, "order-not-found")
    assert str(missing) in body["detail"]
    for bad in ("not-a-uuid", "12345", f"{missing}x"):
        assert_problem(staff_api.get(f"/api/orders/{bad}"), 404)


def test_an_order_id_in_capitals_names_the_same_order_for_reads_commands_and_pages(staff_api, manager):
    oid = staff_api.place("cust_caps", [LINE_A])["order_id"]
    caps = oid.upper()

    read = staff_api.get(f"/api/orders/{caps}")
    assert read.status_code == 200 and read.json()["order_id"] == oid
    noted = staff_api.post(f"/api/orders/{caps}/notes", {"text": "called"})
    assert noted.status_code == 200 and noted.json()["order_id"] == oid
    events = staff_api.get(f"/api/orders/{caps}/events").json()["events"]
    assert events[-1]["event_type"] == "NoteAdded"
    page = login(manager).get(f"/orders/{caps}/")
    assert page.status_code == 200 and f'href="/orders/{oid}/trace"' in page.content.decode()


def test_reads_need_a_user_and_any_signed_in_user_may_read_an_order(staff_api, reader_api):
    oid = staff_api.place("cust_auth")["order_id"]
    anonymous = ApiClient()
    for path in ("/api/orders/", f"/api/orders/{oid}"):
        response = anonymous.get(path)
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Token")
    response = reader_api.get(f"/api/orders/{oid}")
    assert response.status_code == 200 and response.json()["order_id"] == oid
    assert "X-Projection-Position" in response

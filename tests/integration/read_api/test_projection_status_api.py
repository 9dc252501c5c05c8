"""GET /api/projections/ (staff only): each projection's event types,
checkpoint, lag and failures."""

import pytest

from tests.support import (
    ApiClient,
    assert_problem,
    last_position,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_projection_status_shows_each_projections_event_types_checkpoint_and_lag(staff_api, settings):
    oid = staff_api.place("cust_status")["order_id"]
    head = last_position()
    response = staff_api.get("/api/projections/")
    assert response.status_code == 200
    projections = {p["name"]: p for p in response.json()["projections"]}
    assert set(projections) == {
        "order_list",
        "customer_summary",
        "daily_sales",
        "inventory",
        "fulfilment",
        "shipping_details",
    }
    order_events = [
        "ItemAdded",
        "ItemRemoved",
        "OrderCancelled",
        "OrderConfirmed",
        "OrderPlaced",
        "OrderShipped",
        "ShippingAddressChanged",
        "ShippingDetailsGiven",
    ]
    for name in ("order_list", "customer_summary", "daily_sales"):
        assert projections[name]["event_types"] == order_events
    assert "StockReserved" in projections["inventory"]["event_types"]
    assert projections["shipping_details"]["event_types"] == [
        "CustomerForgotten",
        "ShippingAddressChanged",
        "ShippingDetailsGiven",
    ]
    assert {"OrderPlaced", "StockReserved", "ReservationRefused"} <= set(
        projections["fulfilment"]["event_types"]
    )
    for p in projections.values():
        assert p["consistency"] in ("async", "inline")
        assert p["checkpoint"]["position"] == head and p["checkpoint"]["tx_id"] > 0
        assert p["lag_events"] == 0 and p["lag_seconds"] == 0.0
        assert p["failures"] == [] and p["state"] == "running"
        assert p["events_seen"] >= 1
        # Orders here need no stock: inventory and fulfilment have nothing to apply.
        assert (p["events_applied"] >= 1) == (p["name"] in ("order_list", "customer_summary", "daily_sales"))

    settings.PROJECTIONS_MODE = "off"
    staff_api.post(f"/api/orders/{oid}/ship")
    staff_api.place("cust_status")
    behind = {
        p["name"]: p for p in staff_api.get("/api/projections/", settle_first=False).json()["projections"]
    }
    assert all(p["lag_events"] == 2 and p["checkpoint"]["position"] == head for p in behind.values())
    caught_up = {p["name"]: p for p in staff_api.get("/api/projections/").json()["projections"]}
    assert all(p["lag_events"] == 0 and p["checkpoint"]["position"] == head + 2 for p in caught_up.values())


@pytest.mark.django_db
def test_projection_status_is_for_staff_only(reader_api):
    assert_problem(reader_api.get("/api/projections/"), 403)
    response = ApiClient().get("/api/projections/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Token")

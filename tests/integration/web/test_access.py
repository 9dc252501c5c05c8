"""Who may see and do what in the web UI: anonymous visitors are sent to
sign in, readers see orders but get 403 on every command, only staff reach
the audit trail and the projection pages, and a form posted without its CSRF
token changes nothing."""

import re
import uuid

import pytest

from tests.integration.web.pages import COMMAND_FORM, committed, held_failure, listed_ids, post_forms, text
from tests.support import GADGET, SHIPPING_FORM, WIDGET, event_count, login, place_order, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.mark.parametrize(
    "path, login_page",
    [
        ("/orders/", "/accounts/login/"),
        (f"/orders/{uuid.uuid4()}/", "/accounts/login/"),
        ("/dashboard/", "/accounts/login/"),
        ("/audit/", "/admin/login/"),
        ("/projections/", "/admin/login/"),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(path, login_page):
    response = login(None).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{login_page}?next={path}"


def test_anonymous_posts_are_sent_to_the_login_page_and_change_nothing():
    order = place_order()
    client = login(None)

    place_response = client.post(
        "/orders/", {"customer_id": "c1", "sku_0": "A", "quantity_0": 1, "price_cents_0": 1}
    )
    cancel_response = client.post(f"/orders/{order.order_id}/cancel", {"version": 1, "reason": "no"})

    assert place_response.status_code == cancel_response.status_code == 302
    assert cancel_response["Location"].startswith("/accounts/login/?next=")
    assert event_count() == 1


@committed
def test_a_signed_in_reader_sees_orders_but_no_command_forms(reader):
    order = place_order(lines=(WIDGET, GADGET))
    settle()
    client = login(reader)

    listing = client.get("/orders/")
    detail = client.get(f"/orders/{order.order_id}/")

    assert listing.status_code == detail.status_code == 200
    assert listed_ids(listing) == [str(order.order_id)]
    assert 'id="place"' not in text(listing)
    assert "WIDGET-A" in text(detail) and "GADGET-B" in text(detail)
    assert not COMMAND_FORM.search(text(detail))
    assert post_forms(listing) == post_forms(detail) == ["/accounts/logout/"]


@pytest.mark.parametrize(
    "action, data",
    [
        ("place", {"customer_id": "c1", "sku_0": "NEW-1", "quantity_0": 1, "price_cents_0": 100}),
        ("add", {"version": 1, "sku": "NEW-1", "quantity": 1, "price_cents": 100}),
        ("remove", {"version": 1, "sku": "GADGET-B"}),
        ("ship", {"version": 1, "carrier": "DHL"}),
        ("cancel", {"version": 1, "reason": "not allowed"}),
    ],
)
def test_a_reader_without_the_managers_group_gets_403_on_every_command(reader, action, data):
    order = place_order(lines=(WIDGET, GADGET))
    path = "/orders/" if action == "place" else f"/orders/{order.order_id}/{action}"

    response = login(reader).post(path, data)

    assert response.status_code == 403
    assert event_count() == 1


@pytest.mark.parametrize("who", ["reader", "manager"])
@pytest.mark.parametrize("path", ["/audit/", "/projections/"])
def test_non_staff_users_are_sent_to_the_admin_login_for_staff_pages(request, who, path):
    response = login(request.getfixturevalue(who)).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@pytest.mark.parametrize("who", [None, "reader", "manager"])
def test_only_staff_may_retry_a_projection(request, who):
    failure = held_failure()
    user = request.getfixturevalue(who) if who else None

    response = login(user).post("/projections/daily_sales/retry")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    failure.refresh_from_db()
    assert failure.resolved_at is None


def test_staff_can_reach_the_audit_and_projection_pages(staff):
    client = login(staff)

    assert client.get("/audit/").status_code == 200
    assert client.get("/projections/").status_code == 200
    assert client.get("/dashboard/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused_and_appends_nothing(manager):
    order = place_order()
    client = login(manager, enforce_csrf_checks=True)
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_csrf",
        "sku_0": "NEW-1",
        "quantity_0": 1,
        "price_cents_0": 100,
    }

    assert client.post("/orders/", form).status_code == 403
    assert client.post(f"/orders/{order.order_id}/cancel", {"version": 1, "reason": "x"}).status_code == 403
    assert event_count() == 1

    # The same form with the page's token goes through: it was the token that was missing.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(client.get("/orders/"))).group(1)
    assert client.post("/orders/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    assert event_count() == 3  # OrderPlaced and ShippingDetailsGiven


def test_a_projection_retry_without_the_csrf_token_is_refused(staff):
    failure = held_failure()

    response = login(staff, enforce_csrf_checks=True).post("/projections/daily_sales/retry")

    assert response.status_code == 403
    failure.refresh_from_db()
    assert failure.resolved_at is None

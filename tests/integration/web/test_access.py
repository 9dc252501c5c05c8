"""Who may see and do what in the web UI: anonymous visitors are sent to
sign in, readers see orders but get the application's 403 page (saying who
may) on every command, only staff reach the audit trail, the projection
pages and the admin (others get the 403 page, never the admin's sign-in),
and a form posted without its CSRF token changes nothing."""

import html
import re
import uuid

import pytest

from tests.integration.web.pages import COMMAND_FORM, committed, held_failure, listed_ids, post_forms, text
from tests.support import GADGET, SHIPPING_FORM, WIDGET, event_count, login, place_order, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.mark.parametrize(
    "path",
    ["/orders/", f"/orders/{uuid.uuid4()}/", "/dashboard/", "/audit/", "/projections/", "/orders/export.csv"],
)
def test_anonymous_visitors_are_sent_to_the_login_page(path):
    response = login(None).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_anonymous_visitors_to_the_admin_sign_in_on_the_application_page():
    client = login(None)

    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"] == "/admin/login/?next=/admin/"
    sign_in = client.get(admin["Location"])
    assert sign_in.status_code == 302 and sign_in["Location"] == "/accounts/login/?next=/admin/"


def forbidden_reason(response) -> str:
    """What the application's 403 page says (it is not the admin's sign-in form)."""
    assert response.status_code == 403
    assert 'name="password"' not in text(response)
    return html.unescape(re.search(r'<p id="forbidden-reason">(.*?)</p>', text(response), re.S).group(1))


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
    assert 'id="place"' not in text(listing) and 'id="to-place"' not in text(listing)
    assert "WIDGET-A" in text(detail) and "GADGET-B" in text(detail)
    assert not COMMAND_FORM.search(text(detail))
    assert post_forms(listing) == post_forms(detail) == ["/accounts/logout/"]


def test_an_order_manager_is_offered_a_way_straight_to_the_place_order_form(manager):
    listing = text(login(manager).get("/orders/"))

    assert '<a href="#place" id="to-place">' in listing  # above the list, not 130 tabs away
    assert listing.index('id="to-place"') < listing.index('id="find-heading"') < listing.index('id="place"')


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

    assert "Only order managers can place and change orders" in forbidden_reason(response)
    assert "Ask a staff user to add you to the Order managers group." in forbidden_reason(response)
    assert event_count() == 1


@pytest.mark.parametrize("action", ["cancel", "remove"])
def test_a_reader_gets_403_on_the_confirmation_pages_too(reader, action):
    order = place_order(lines=(WIDGET, GADGET))

    response = login(reader).get(
        f"/orders/{order.order_id}/{action}/confirm", {"version": 1, "sku": "GADGET-B", "reason": "x"}
    )

    assert "Only order managers" in forbidden_reason(response)


def test_a_reader_gets_403_on_receiving_stock(reader):
    response = login(reader).post("/inventory/", {"sku": "WIDGET-A", "quantity": 5})

    assert "Only order managers" in forbidden_reason(response)
    assert event_count() == 0


@pytest.mark.parametrize("who", ["reader", "manager"])
@pytest.mark.parametrize(
    "path, reason",
    [
        ("/audit/", "Only staff users can read the audit trail."),
        ("/projections/", "Only staff users can open this page."),
        ("/admin/", "Only staff users can use the admin."),
        ("/admin/login/?next=/admin/", "Only staff users can use the admin."),
    ],
)
def test_non_staff_users_get_the_403_page_saying_who_may(request, who, path, reason):
    user = request.getfixturevalue(who)
    client = login(user)

    response = client.get(path, follow=True)

    assert reason in forbidden_reason(response)
    assert f"You are signed in as {user.username}." in text(response)
    assert 'href="/orders/"' in text(response)  # the application's own page, with its navigation


@pytest.mark.parametrize("who", [None, "reader", "manager"])
def test_only_staff_may_retry_a_projection(request, who):
    failure = held_failure()
    user = request.getfixturevalue(who) if who else None

    response = login(user).post("/projections/daily_sales/retry")

    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert "Only staff users" in forbidden_reason(response)
    failure.refresh_from_db()
    assert failure.resolved_at is None


def test_staff_reach_the_admin(staff):
    client = login(staff)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/admin/"


def test_staff_can_reach_the_audit_and_projection_pages(staff):
    client = login(staff)

    assert client.get("/audit/").status_code == 200
    assert client.get("/projections/").status_code == 200
    assert client.get("/dashboard/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused_and_appends_nothing(manager):
    order = place_order()
    client = login(manager, enforce_csrf_checks=True)
    form = {**SHIPPING_FORM, "customer_id": "cust_csrf", "sku_0": "NEW-1", "quantity_0": 1}

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

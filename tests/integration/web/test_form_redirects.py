"""Post/redirect/get: after a form the browser always lands on a page by GET
(the order, the list, the inventory), so the address bar never shows a
command's URL and a reload never sends the form again; a GET of a command
URL shows the order; a form's one-time key makes a double submit run once."""

import re

import pytest

from eventstore import EventStore
from orders import commands
from tests.integration.web.pages import committed, messages_shown, refused, text
from tests.support import GADGET, WIDGET, event_count, login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.mark.parametrize("action", ["add", "remove", "ship", "cancel"])
def test_a_get_of_a_command_url_shows_the_order(manager, action):
    order = place_order(lines=(WIDGET, GADGET)).order_id

    response = login(manager).get(f"/orders/{order}/{action}")

    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order}/"
    assert event_count() == 1


@committed
def test_reloading_the_page_after_a_refusal_shows_it_again_and_sends_nothing(manager):
    order = place_order(lines=(WIDGET,)).order_id
    run_command(commands.ShipOrder(order))
    settle()
    client = login(manager)
    response = client.post(
        f"/orders/{order}/ship", {"version": "1", "carrier": "UPS", "tracking_number": "Z9"}
    )
    location = response["Location"]
    assert location.startswith(f"/orders/{order}/?form=")

    first, reload = client.get(location), client.get(location)

    assert event_count() == 2
    for page in (first, reload):
        assert page.status_code == 200
        assert "changed after you opened the page, so it was not shipped." in text(page)
        assert 'id="again-carrier" value="UPS"' in text(page)


@committed
def test_a_kept_form_is_shown_only_on_its_own_order_and_to_its_own_session(manager, staff):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    other_order = place_order(lines=(WIDGET,)).order_id
    settle()
    client = login(manager)
    typed = {"version": "1", "sku": "bad sku!", "quantity": "1", "price_cents": "1"}
    location = client.post(f"/orders/{order}/add", typed)["Location"]
    token = re.search(r"\?form=([\w-]+)", location).group(1)
    assert 'value="bad sku!"' in text(client.get(location))

    elsewhere = client.get(f"/orders/{other_order}/", {"form": token})
    someone_else = login(staff).get(f"/orders/{order}/", {"form": token})

    assert 'value="bad sku!"' not in text(elsewhere)
    assert 'value="bad sku!"' not in text(someone_else)
    assert "Letters, digits" not in text(someone_else)


@committed
def test_the_kept_form_carries_a_new_one_time_key_and_sending_it_twice_runs_once(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)
    typed = {"version": "1", "sku": "NEW-1", "quantity": "0", "price_cents": "250", "form_key": "a" * 32}
    page = refused(client, f"/orders/{order}/add", typed, shown_at=f"/orders/{order}/")
    add_form = text(page).split('id="add-heading"', 1)[1]
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', add_form).group(1)
    assert key != "a" * 32

    corrected = {**typed, "quantity": "2", "form_key": key}
    first = client.post(f"/orders/{order}/add", corrected)
    second = client.post(f"/orders/{order}/add", corrected)  # a double click, or the back button and again

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert [e.event_type for e in EventStore().load(order)] == ["OrderPlaced", "ItemAdded"]


def test_a_refused_order_placement_goes_back_to_the_list_with_what_was_typed(manager):
    client = login(manager)
    form = {"customer_id": "bad id!", "sku_0": "WIDGET-A", "quantity_0": "2", "price_cents_0": "1999"}

    page = refused(client, "/orders/", form, shown_at="/orders/")

    assert "Letters a-z and A-Z (no accents), digits and _.:- (at most 64)." in text(page)
    assert 'value="bad id!"' in text(page)
    assert 'value="WIDGET-A"' in text(page)
    assert event_count() == 0
    assert client.get("/orders/").content.count(b"bad id!") == 0  # the plain list has a blank form


@committed
def test_refused_stock_receipt_goes_back_to_the_inventory_with_what_was_typed(manager):
    client = login(manager)

    page = refused(client, "/inventory/", {"sku": "WIDGET-A", "quantity": "0"}, shown_at="/inventory/")

    assert 'id="receive-sku" name="sku" required maxlength="40" value="WIDGET-A"' in text(page)
    assert "The quantity is at least 1." in text(page)
    assert event_count() == 0

    done = client.post("/inventory/", {"sku": "WIDGET-A", "quantity": "5"})
    assert done.status_code == 302 and done["Location"].startswith("/inventory/?after=")
    settle()
    shown = client.get(done["Location"])
    assert "Received 5 \u00d7 WIDGET-A." in messages_shown(shown)
    row = re.search(r'<td class="mono">WIDGET-A</td><td>([^<]*)</td><td class="num">5</td>', text(shown))
    assert row is not None and row.group(1)  # the SKU's product, by name

"""The order forms send back the unit price they showed: the place-order
rows (``price_<key>``) and the add-item form (``price``), each with the SKU
it was shown for. A price changed in the catalogue between showing the form
and sending it is refused (nothing appended) and the form comes back with
the new price and what changed; sent again, it is charged. A line whose
price was never shown (no JavaScript, a blank field) is charged the
catalogue's price, as before."""

import html
import re

import pytest

from eventstore.models import Event
from orders import commands
from projections.models import CatalogueProduct
from tests.integration.web.pages import committed, messages_shown, refused, text
from tests.support import SHIPPING_FORM, WIDGET, event_count, login, place_order, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

WIDGET_CHANGED = "The price of WIDGET-A changed from €19.99 to €21.99; check and submit again."


def hidden_inputs(body: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"[^>]*>', body))


def row_info(client, key: str, sku: str) -> dict[str, str]:
    """What htmx puts into a place-order row when its SKU is typed: the hidden fields."""
    info = client.get("/orders/line-row", {"row": key, f"sku_{key}": sku, "part": "info"})
    return {k: v for k, v in hidden_inputs(text(info)).items() if k.endswith(f"_{key}")}


def placed_items() -> list[tuple[str, int, int]]:
    [event] = Event.objects.filter(event_type="OrderPlaced")
    return [(i["sku"], i["quantity"], i["price_cents"]) for i in event.event_data["items"]]


def place_form(**rows) -> dict:
    return {**SHIPPING_FORM, "customer_id": "cust_prices", **rows}


@committed
def test_a_price_changed_after_the_form_showed_it_is_refused_then_charged_when_sent_again(manager):
    settle()
    client = login(manager)
    shown = {**row_info(client, "r1", "WIDGET-A"), **row_info(client, "r2", "GADGET-B")}
    assert shown == {
        "price_r1": "1999",
        "price_for_r1": "WIDGET-A",
        "price_r2": "500",
        "price_for_r2": "GADGET-B",
    }
    form = place_form(
        sku_r1="WIDGET-A", quantity_r1="2", sku_r2="GADGET-B", quantity_r2="1", form_key="a" * 32, **shown
    )
    commands.execute(commands.ChangeProductPrice("WIDGET-A", 2199))
    assert CatalogueProduct.objects.get(sku="WIDGET-A").price_cents == 1999  # not projected yet

    page = refused(client, "/orders/", form, shown_at="/orders/")

    assert event_count() == 0
    body = html.unescape(text(page))
    assert "Prices changed since this form was shown; nothing was placed." in body
    widget_row, gadget_row = re.findall(r'<tr class="line-row".*?</tr>', body, re.S)
    assert WIDGET_CHANGED in widget_row and 'aria-invalid="true"' in widget_row
    # The new price, not the read model's.
    assert '<td class="num line-price" data-label="Unit price">€21.99</td>' in widget_row
    assert "price of" not in gadget_row
    again = {name: value for name, value in hidden_inputs(body).items() if name.startswith("price")}
    assert again == {
        "price_r1": "2199",
        "price_for_r1": "WIDGET-A",
        "price_r2": "500",
        "price_for_r2": "GADGET-B",
    }

    form_key = hidden_inputs(body.split('id="place-form"', 1)[1])["form_key"]
    assert form_key != "a" * 32  # a new attempt
    response = client.post("/orders/", {**form, **again, "form_key": form_key})

    assert response.status_code == 302 and response["Location"].startswith("/orders/")
    assert placed_items() == [("WIDGET-A", 2, 2199), ("GADGET-B", 1, 500)]


def test_a_line_whose_price_was_not_shown_is_charged_the_catalogue_price(manager):
    commands.execute(commands.ChangeProductPrice("WIDGET-A", 2199))
    form = place_form(
        sku_0="WIDGET-A",  # no JavaScript: the row never showed a price
        quantity_0="1",
        price_0="",
        sku_1="GADGET-B",  # the row showed WIDGET-A's old price, then its SKU was changed
        quantity_1="1",
        price_1="1999",
        price_for_1="WIDGET-A",
    )

    response = login(manager).post("/orders/", form)

    assert response.status_code == 302
    assert placed_items() == [("WIDGET-A", 1, 2199), ("GADGET-B", 1, 500)]


def test_a_damaged_shown_price_is_a_form_error(manager):
    form = place_form(sku_0="WIDGET-A", quantity_0="1", price_0="19.99", price_for_0="WIDGET-A")

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    assert "Enter a whole number." in text(page)
    assert event_count() == 0


@committed
def test_the_add_item_form_refuses_a_price_changed_since_it_was_shown_then_charges_it(manager):
    order = place_order(lines=(WIDGET,)).order_id
    settle()
    client = login(manager)
    info = client.get(f"/orders/{order}/item-info", {"sku": "GADGET-B"})
    assert "Product GADGET-B: €5.00 a unit" in text(info)
    shown = hidden_inputs(text(info))
    assert shown == {"price": "500", "price_for": "GADGET-B"}
    commands.execute(commands.ChangeProductPrice("GADGET-B", 650))

    page = refused(
        client,
        f"/orders/{order}/add",
        {"version": "1", "sku": "GADGET-B", "quantity": "2", **shown},
        shown_at=f"/orders/{order}/",
    )

    assert event_count() == 1
    body = html.unescape(text(page))
    changed = "The price of GADGET-B changed from €5.00 to €6.50; check and submit again."
    assert f'id="add-error">{changed}<' in body
    add_form = body.split('id="add-heading"', 1)[1].split("</form>", 1)[0]
    assert "Product GADGET-B: €6.50 a unit" in add_form
    again = hidden_inputs(add_form)
    assert (again["price"], again["price_for"], again["version"]) == ("650", "GADGET-B", "1")

    response = client.post(f"/orders/{order}/add", {"sku": "GADGET-B", "quantity": "2", **again})

    assert response.status_code == 302
    added = Event.objects.get(event_type="ItemAdded").event_data
    assert (added["sku"], added["quantity"], added["price_cents"]) == ("GADGET-B", 2, 650)
    settle()
    assert "Item added." in messages_shown(client.get(response["Location"]))


@committed
def test_the_add_item_form_shows_a_sku_already_on_the_order_at_its_line_price(manager, reader):
    order = place_order(lines=(WIDGET,)).order_id
    commands.execute(commands.ChangeProductPrice("WIDGET-A", 2199))
    settle()
    client = login(manager)

    info = text(client.get(f"/orders/{order}/item-info", {"sku": "WIDGET-A"}))

    assert "is on this order at €19.99 a unit: the units join that line." in html.unescape(info)
    assert hidden_inputs(info) == {}  # no price of the catalogue's was shown: none is sent back
    response = client.post(f"/orders/{order}/add", {"version": "1", "sku": "WIDGET-A", "quantity": "1"})
    assert response.status_code == 302
    assert Event.objects.get(event_type="ItemAdded").event_data["price_cents"] == 1999
    unknown = text(client.get(f"/orders/{order}/item-info", {"sku": "NO\x00SUCH"}))
    assert "not in the catalogue" in unknown
    assert login(reader).get(f"/orders/{order}/item-info", {"sku": "WIDGET-A"}).status_code == 403

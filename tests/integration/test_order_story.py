"""Events written before the catalogue still load and project; internal
notes; one order's whole story across correlation ids; the catalogue page
and the place-order form without JavaScript."""

import re
import uuid

import pytest

from eventstore import EventStore, NewEvent
from orders import commands
from orders.domain.product import product_id
from orders.repository import OrderRepository
from projections.models import CatalogueProduct, OrderLine, OrderSummary
from tests.support import (
    SHIPPING_FORM,
    ApiClient,
    login,
    old_store,
    place_order,
    read_model_snapshot,
    rebuilt_snapshot,
    run_command,
    settle,
    stock_catalogue,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_orders_written_before_the_catalogue_keep_their_prices_load_and_project(staff):
    v1, v2 = uuid.uuid4(), uuid.uuid4()
    line = {"sku": "OLD-1", "quantity": 2, "price_cents": 1234}  # a SKU the catalogue never had
    old_store({"OrderPlaced": 1, "ItemAdded": 1}).append(
        "Order",
        v1,
        [
            NewEvent("OrderPlaced", {"customer_id": "c_old", "items": [line], "total_cents": 2468}),
            NewEvent(
                "ItemAdded", {"sku": "OLD-2", "quantity": 1, "price_cents": 99, "order_total_cents": 2567}
            ),
        ],
        0,
    )
    old_store({"OrderPlaced": 2, "ItemAdded": 1}).append(
        "Order",
        v2,
        [
            NewEvent(
                "OrderPlaced",
                {"customer_id": "c_old", "items": [line], "total_cents": 2468, "requires_confirmation": True},
            )
        ],
        0,
    )
    stored = EventStore().load(v1)
    assert [e.stored_schema_version for e in stored] == [1, 1]
    assert [e.schema_version for e in stored] == [3, 2]  # read upcast to the current versions

    order = OrderRepository().get(v1)
    assert order.total_cents == 2567 and order.requires_confirmation is False
    assert order.lines["OLD-1"].price_cents == 1234 and order.lines["OLD-1"].catalogue_price_cents is None
    assert OrderRepository().get(v2).requires_confirmation is True

    # A command on an old order still works; new lines are priced from the catalogue.
    stock_catalogue([("NEW-1", 1, 250)])
    run_command(commands.AddItem(v1, "NEW-1", 1))
    run_command(commands.ChangeLineQuantity(v1, "OLD-1", 3))
    settle()
    summary = OrderSummary.objects.get(order_id=v1)
    assert (summary.total_cents, summary.line_count, summary.version) == (1234 * 3 + 99 + 250, 3, 4)
    old_line = OrderLine.objects.get(order_id=v1, sku="OLD-1")
    assert (old_line.price_cents, old_line.catalogue_price_cents, old_line.quantity) == (1234, None, 3)
    assert OrderSummary.objects.get(order_id=v2).requires_confirmation is True
    detail = ApiClient(staff).get(f"/api/orders/{v1}").json()
    assert [i["sku"] for i in detail["items"]] == ["OLD-1", "OLD-2", "NEW-1"]
    assert rebuilt_snapshot() == read_model_snapshot()


def test_notes_are_recorded_with_who_wrote_them_and_shown_in_the_timeline(manager, other):
    oid = place_order("cust_note").order_id
    response = ApiClient(manager).post(f"/api/orders/{oid}/notes", {"text": "Customer asked for gift wrap"})
    assert response.status_code == 200 and response.json()["version"] == 2
    run_command(commands.ShipOrder(oid))
    # Notes are allowed on a closed order too (they change nothing but the record).
    page_post = login(other).post(f"/orders/{oid}/note", {"version": "3", "text": "Parcel left at 4pm"})
    assert page_post.status_code == 302
    notes = [e for e in EventStore().load(oid) if e.event_type == "NoteAdded"]
    assert [(n.data["text"], n.metadata["user_id"]) for n in notes] == [
        ("Customer asked for gift wrap", str(manager.pk)),
        ("Parcel left at 4pm", str(other.pk)),
    ]
    settle()
    page = login(manager).get(f"/orders/{oid}/").content.decode()
    assert "Note: Customer asked for gift wrap" in page and "Note: Parcel left at 4pm" in page
    assert page.count("· by other\n") == 1
    empty = ApiClient(manager).post(f"/api/orders/{oid}/notes", {"text": "   "})
    assert empty.status_code == 400
    assert ApiClient(manager).post(f"/api/orders/{uuid.uuid4()}/notes", {"text": "x"}).status_code == 404


def test_the_order_trace_shows_every_event_of_the_order_and_its_stock_across_requests(settings, staff):
    settings.INVENTORY_RESERVATION = True
    settings.PROJECTIONS_MODE = "inprocess"
    stock_catalogue([("WIDGET-A", 1, 100), ("GADGET-B", 1, 100)])
    run_command(commands.ReceiveStock("WIDGET-A", 10))
    run_command(commands.ReceiveStock("GADGET-B", 10))
    oid = place_order("cust_trace", [("WIDGET-A", 2, 100)], user=staff, correlation="first-request").order_id
    run_command(commands.AddItem(oid, "GADGET-B", 1), correlation="second-request")
    settle()
    client = login(staff)

    page = client.get(f"/orders/{oid}/")
    assert f'href="/orders/{oid}/trace"' in page.content.decode()
    trace = client.get(f"/orders/{oid}/trace").content.decode()
    rows = re.findall(r'<tr class="(order|stock)">\s*<td[^>]*>.*?</td>\s*<td>(.*?)</td>', trace, re.S)
    # placed, its stock reserved, confirmed; then (another request) an item added, its stock, confirmed again
    assert [kind for kind, _ in rows] == ["order", "stock", "order", "order", "stock", "order"]
    assert rows[0][1] == "Placed for cust_trace: 1 line, total €2.00"
    assert rows[1][1] == "Stock reserved: 2 \u00d7 WIDGET-A"
    assert rows[3][1] == "Added 1 \u00d7 GADGET-B at €1.00"
    assert rows[4][1] == "Stock reserved: 1 \u00d7 GADGET-B"
    # Who: the user who placed it, and the fulfilment process's work "automatically", as in the history.
    by = re.findall(r'<tr class="(?:order|stock)">(?:\s*<td[^>]*>.*?</td>){3}\s*<td>(.*?)</td>', trace, re.S)
    assert by[:3] == [staff.username, "automatically", "automatically"]
    assert "first-request" in trace and "second-request" in trace
    # The audit's trace of the first request's correlation id holds only that request's workflow.
    first = client.get("/audit/", {"correlation_id": "first-request"}).content.decode()
    assert "GADGET-B" not in re.sub(r"<datalist.*?</datalist>", "", first, flags=re.S)
    assert client.get(f"/orders/{uuid.uuid4()}/trace").status_code == 404
    stock_stream = EventStore().load(product_id("WIDGET-A"))[0].aggregate_id
    assert client.get(f"/orders/{stock_stream}/trace").status_code == 404


def test_the_catalogue_page_adds_products_and_changes_prices_in_major_units(manager, reader, settings):
    settings.PROJECTIONS_MODE = "inprocess"
    client = login(manager)
    added = client.post(
        "/catalogue/", {"sku": "MUG-1", "name": "Mug", "description": "Stoneware", "price": "12.50"}
    )
    assert added.status_code == 302
    product = CatalogueProduct.objects.get(sku="MUG-1")
    assert (product.name, product.price_cents, product.active) == ("Mug", 1250, True)
    page = client.get("/catalogue/").content.decode()
    assert "€12.50" in page and 'value="12.50"' in page and "cents" not in page.lower()

    assert client.post("/catalogue/MUG-1/price", {"version": "1", "price": "13.99"}).status_code == 302
    assert client.post("/catalogue/MUG-1/discontinue", {"version": "2"}).status_code == 302
    product.refresh_from_db()
    assert (product.price_cents, product.active) == (1399, False)
    stale = client.post("/catalogue/MUG-1/price", {"version": "1", "price": "1.00"}, follow=True)
    assert "changed after you opened the page" in stale.content.decode()
    bad = client.post("/catalogue/", {"sku": "MUG-2", "name": "Mug", "price": "1.234"})
    assert (
        bad.status_code == 400
        and "Ensure that there are no more than 2 decimal places." in bad.content.decode()
    )
    assert client.get("/catalogue/", {"q": "mug"}).status_code == 200
    assert login(reader).post("/catalogue/", {"sku": "X-1", "name": "x", "price": "1"}).status_code == 403
    assert "Add a product" not in login(reader).get("/catalogue/").content.decode()


def test_the_place_order_form_adds_a_row_without_javascript_and_suggests_skus(manager, settings):
    settings.PROJECTIONS_MODE = "inprocess"
    stock_catalogue([("WIDGET-A", 1, 1999), ("WIDE-2", 1, 500), ("GADGET-B", 1, 500)])
    client = login(manager)
    form = {
        **SHIPPING_FORM,
        "customer_id": "c1",
        "form_key": "a" * 32,
        "sku_0": "WIDGET-A",
        "quantity_0": "2",
        "sku_1": "",
        "quantity_1": "",
    }

    again = client.post("/orders/", {**form, "add_line": "1"})  # the form comes back a row longer

    body = again.content.decode()
    assert again.status_code == 200 and body.count('class="line-row"') == 3
    assert 'value="WIDGET-A"' in body and "€19.99" in body and 'value="c1"' in body
    assert f'value="{SHIPPING_FORM["email"]}"' in body  # as typed, contact and address too
    assert client.session.get("form_states") is None  # and kept nowhere
    suggestions = client.get("/catalogue/suggest", {"sku_x1": "wid"}).content.decode()
    assert re.findall(r'<option value="([^"]+)"', suggestions) == ["WIDE-2", "WIDGET-A"]
    row = client.get(
        "/orders/line-row", {"row": "x1", "sku_x1": "WIDGET-A", "quantity_x1": "3"}
    ).content.decode()
    assert 'name="sku_x1"' in row and 'value="3"' in row and "Product WIDGET-A" in row
    info = client.get(
        "/orders/line-row", {"row": "x1", "sku_x1": "WIDGET-A", "part": "info"}
    ).content.decode()
    assert 'data-price="1999"' in info and "Product WIDGET-A" in info and "<tr" not in info
    unknown = client.get("/orders/line-row", {"row": "x1", "sku_x1": "NOPE", "part": "info"}).content.decode()
    assert "not in the catalogue" in unknown
    assert client.post("/orders/", form).status_code == 302

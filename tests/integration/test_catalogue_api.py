"""The catalogue over REST (products: add, price, rename, discontinue,
reactivate, list, search, get) with the command rules every endpoint shares,
and order lines priced from it: catalogue prices recorded on the order, a
stale client price refused with the current one, staff overrides with a
reason, unknown and discontinued SKUs refused with nothing appended."""

import uuid

import pytest

from eventstore import EventStore
from orders.domain.product import product_id
from tests.support import (
    ApiClient,
    assert_problem,
    catalogue_event_count,
    event_count,
    login,
    settle,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def projections_in_process(settings):
    settings.PROJECTIONS_MODE = "inprocess"


@pytest.fixture
def api(manager):
    return ApiClient(manager, settle_reads=True)


def add(api, sku="LAMP-1", price=4550, name="Desk lamp", **extra):
    response = api.post("/api/products/", {"sku": sku, "name": name, "price_cents": price, **extra})
    assert response.status_code == 201, response.content
    return response


def test_adding_a_product_answers_201_and_the_read_model_serves_it(api):
    response = add(api, description="Brass, 40 cm")
    assert response["Location"] == "/api/products/LAMP-1" and response["ETag"] == '"1"'
    assert response.json()["sku"] == "LAMP-1" and response.json()["version"] == 1
    [event] = EventStore().load(product_id("LAMP-1"))
    assert (event.aggregate_type, event.event_type) == ("Product", "ProductAdded")
    assert event.data == {
        "sku": "LAMP-1",
        "name": "Desk lamp",
        "description": "Brass, 40 cm",
        "price_cents": 4550,
        "active": True,
    }

    got = api.get("/api/products/LAMP-1")
    assert got.status_code == 200 and got["ETag"] == '"1"'
    assert {k: got.json()[k] for k in ("sku", "name", "price_cents", "active")} == {
        "sku": "LAMP-1",
        "name": "Desk lamp",
        "price_cents": 4550,
        "active": True,
    }


def test_a_new_sku_that_is_a_catalogue_sku_in_another_case_is_409_naming_it(api):
    add(api, "LAMP-1")
    before = event_count()

    problem = assert_problem(
        api.post("/api/products/", {"sku": "lamp-1", "name": "Desk lamp", "price_cents": 4550}),
        409,
        "sku-spelled-otherwise",
    )

    assert problem["known_sku"] == "LAMP-1" and "differs from it only in case" in problem["detail"]
    assert event_count() == before
    assert_problem(
        api.post("/api/products/", {"sku": "LAMP-1", "name": "x", "price_cents": 1}), 409, "product-exists"
    )
    add(api, "LAMP-10")  # a SKU no product has in any case


def test_price_rename_discontinue_and_reactivate_each_append_one_event(api):
    add(api)
    assert api.post("/api/products/LAMP-1/price", {"price_cents": 4990}).json()["version"] == 2
    assert api.post("/api/products/LAMP-1/rename", {"name": "Brass lamp"}).json()["version"] == 3
    for raw in ("false", "0", "[]", "null", '{"reason": "x"}'):  # it takes no body
        assert_problem(api.post("/api/products/LAMP-1/discontinue", raw=raw), 400, "validation-error")
    assert api.post("/api/products/LAMP-1/discontinue").json()["version"] == 4
    assert api.post("/api/products/LAMP-1/discontinue").json()["version"] == 4  # already: nothing new
    assert api.post("/api/products/LAMP-1/reactivate").json()["version"] == 5
    types = [e.event_type for e in EventStore().load(product_id("LAMP-1"))]
    assert types == [
        "ProductAdded",
        "ProductPriceChanged",
        "ProductRenamed",
        "ProductDiscontinued",
        "ProductReactivated",
    ]
    body = api.get("/api/products/LAMP-1").json()
    assert (body["name"], body["price_cents"], body["active"], body["version"]) == (
        "Brass lamp",
        4990,
        True,
        5,
    )


def test_the_list_searches_sku_prefix_and_name_and_filters_sold_ones(api):
    add(api, "LAMP-1", name="Desk lamp")
    add(api, "LAMP-2", name="Floor lamp")
    add(api, "BULB-9", name="Spare bulb for lamps", price=300)
    api.post("/api/products/LAMP-2/discontinue")

    def skus(**params):
        return [p["sku"] for p in api.get("/api/products/", **params).json()["results"]]

    assert skus() == ["BULB-9", "LAMP-1", "LAMP-2"]
    assert skus(q="lamp") == ["BULB-9", "LAMP-1", "LAMP-2"]  # name contains, any case
    assert skus(q="LAMP-") == ["LAMP-1", "LAMP-2"]
    assert skus(q="floor") == ["LAMP-2"]
    assert skus(active="true") == ["BULB-9", "LAMP-1"]
    assert skus(active="false") == ["LAMP-2"]
    page = api.get("/api/products/", limit=2).json()
    assert page["next_after"] == "LAMP-1"
    last = api.get("/api/products/", after="LAMP-1", limit=1).json()  # full, and the last one
    assert [p["sku"] for p in last["results"]] == ["LAMP-2"] and last["next_after"] is None
    assert api.get("/api/products/", limit=3).json()["next_after"] is None


def test_a_name_typed_in_decomposed_form_is_stored_composed_and_found_either_way(api):
    add(api, "CUP-1", name="Cafe\u0301 cup")  # "e" and a combining accent, as some keyboards send it

    assert api.get("/api/products/CUP-1").json()["name"] == "Caf\u00e9 cup"
    for typed in ("Caf\u00e9", "Cafe\u0301"):
        assert [p["sku"] for p in api.get("/api/products/", q=typed).json()["results"]] == ["CUP-1"], typed


def test_a_race_lost_under_if_match_names_the_product_not_its_stream(api, monkeypatch, run_in_threads):
    """Another writer changes the price between this command's load (at the
    If-Match version) and its append: 412, in the product's own words."""
    from orders import commands
    from orders.repository import ProductRepository

    add(api)
    real_save, raced = ProductRepository.save, []

    def save(self, aggregate):
        if not raced:
            raced.append(True)
            run_in_threads(lambda: commands.execute(commands.ChangeProductPrice("LAMP-1", 4700)))
        return real_save(self, aggregate)

    monkeypatch.setattr(ProductRepository, "save", save)
    stale = api.post("/api/products/LAMP-1/price", {"price_cents": 4800}, headers={"If-Match": '"1"'})
    stale = assert_problem(stale, 412, "stale-version")
    assert stale["title"] == "The product has changed"
    assert stale["detail"].startswith("product LAMP-1 is at version 2, not 1")
    assert stale["current_version"] == 2


def test_product_commands_follow_the_command_rules(api, reader):
    add(api)
    before = catalogue_event_count()
    assert_problem(
        api.post("/api/products/", {"sku": "LAMP-1", "name": "x", "price_cents": 1}), 409, "product-exists"
    )
    assert_problem(api.post("/api/products/NOPE/price", {"price_cents": 1}), 404, "product-not-found")
    assert_problem(api.get("/api/products/NOPE"), 404, "product-not-found")
    assert_problem(api.post("/api/products/LAMP-1/price", {"price_cents": -1}), 400, "validation-error")
    spoofed = api.post("/api/products/", {"sku": "LAMP-9", "name": "lamp \u202egpj.exe", "price_cents": 1})
    assert assert_problem(spoofed, 400, "validation-error")["errors"] == {
        "name": ["one line, without tabs or control characters"]
    }
    assert_problem(api.post("/api/products/LAMP-1/rename", {"name": "Desk\tlamp"}), 400, "validation-error")
    assert_problem(api.post("/api/products/bad sku!/price", {"price_cents": 1}), 400)
    stale = api.post("/api/products/LAMP-1/price", {"price_cents": 1}, headers={"If-Match": '"7"'})
    stale = assert_problem(stale, 412, "stale-version")
    assert stale["title"] == "The product has changed"
    assert stale["detail"].startswith("product LAMP-1 is at version 1, not 7")  # not its stream's id
    missing = api.post("/api/products/NOPE/price", {"price_cents": 1}, headers={"If-Match": '"1"'})
    assert_problem(missing, 404, "product-not-found")  # not "at version 0"
    assert_problem(
        ApiClient(reader).post("/api/products/", {"sku": "X-1", "name": "x", "price_cents": 1}), 403
    )
    assert catalogue_event_count() == before

    key = {"Idempotency-Key": "price-once"}
    first = api.post("/api/products/LAMP-1/price", {"price_cents": 5000}, headers=key)
    again = api.post("/api/products/LAMP-1/price", {"price_cents": 5000}, headers=key)
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    other = api.post("/api/products/LAMP-1/price", {"price_cents": 5100}, headers=key)
    assert_problem(other, 422, "idempotency-key-reused")
    assert catalogue_event_count() == before + 1


def test_the_event_catalog_and_the_openapi_schema_know_the_catalogue(api, client):
    catalog = {e["event_type"]: e for e in api.get("/api/catalog/events").json()["event_types"]}
    for name in (
        "ProductAdded",
        "ProductPriceChanged",
        "ProductRenamed",
        "ProductDiscontinued",
        "ProductReactivated",
    ):
        assert catalog[name]["aggregate_type"] == "Product"
    assert [v["version"] for v in catalog["OrderPlaced"]["versions"]] == [1, 2, 3]
    assert [v["version"] for v in catalog["ItemAdded"]["versions"]] == [1, 2]
    for name in ("LineQuantityChanged", "LineRejected", "NoteAdded"):
        assert catalog[name]["aggregate_type"] == "Order"
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/products/",
        "/api/products/{sku}",
        "/api/products/{sku}/price",
        "/api/products/{sku}/rename",
        "/api/products/{sku}/discontinue",
        "/api/products/{sku}/reactivate",
        "/api/orders/{order_id}/notes",
    ):
        assert path in paths, path
    assert {"put", "patch", "delete"} <= set(paths["/api/orders/{order_id}/items/{sku}"])


# -- orders priced from the catalogue ----------------------------------------------------


@pytest.fixture
def shop(api):
    """The catalogue sells WIDGET-A at 19.99 and GADGET-B at 5.00."""
    add(api, "WIDGET-A", 1999, "Widget")
    add(api, "GADGET-B", 500, "Gadget")
    return api


def place(api, *items, headers=None):
    return api.post("/api/orders/", {"customer_id": "cust_p", "items": list(items)}, headers)


def test_lines_without_a_price_are_charged_the_catalogue_price_and_the_event_records_it(shop):
    response = place(
        shop, {"sku": "WIDGET-A", "quantity": 2}, {"sku": "GADGET-B", "quantity": 1, "price_cents": 500}
    )
    assert response.status_code == 201, response.content
    oid = uuid.UUID(response.json()["order_id"])
    [placed] = EventStore().load(oid)
    assert placed.data["items"] == [
        {
            "sku": "WIDGET-A",
            "quantity": 2,
            "price_cents": 1999,
            "catalogue_price_cents": 1999,
            "override_reason": None,
        },
        {
            "sku": "GADGET-B",
            "quantity": 1,
            "price_cents": 500,
            "catalogue_price_cents": 500,
            "override_reason": None,
        },
    ]
    assert placed.data["total_cents"] == 4498

    # A new price applies to lines added from now on; the order keeps what it was charged.
    shop.post("/api/products/GADGET-B/price", {"price_cents": 650})
    added = shop.post(f"/api/orders/{oid}/items", {"sku": "GADGET-B", "quantity": 1})
    assert added.status_code == 200  # the SKU is on the order: its units join the line at its price
    more = shop.post(f"/api/orders/{oid}/items", {"sku": "WIDGET-A", "quantity": 1})
    assert more.status_code == 200
    add(shop, "NEW-1", 250)
    new_line = shop.post(f"/api/orders/{oid}/items", {"sku": "NEW-1", "quantity": 2})
    assert new_line.status_code == 200
    history = EventStore().load(oid)
    assert [(e.data["sku"], e.data["price_cents"]) for e in history[1:]] == [
        ("GADGET-B", 500),
        ("WIDGET-A", 1999),
        ("NEW-1", 250),
    ]
    detail = shop.get(f"/api/orders/{oid}").json()
    assert detail["total_cents"] == 3 * 1999 + 2 * 500 + 2 * 250


def test_a_stale_client_price_is_409_with_the_current_price_and_appends_nothing(shop):
    shop.post("/api/products/WIDGET-A/price", {"price_cents": 2199})
    before = event_count()

    body = assert_problem(
        place(shop, {"sku": "WIDGET-A", "quantity": 1, "price_cents": 1999}), 409, "price-changed"
    )

    assert (body["sku"], body["current_price_cents"], body["stated_price_cents"]) == ("WIDGET-A", 2199, 1999)
    assert body["current_prices"] == {"WIDGET-A": 2199}
    assert event_count() == before
    oid = place(shop, {"sku": "GADGET-B", "quantity": 1})
    stale_add = shop.post(
        f"/api/orders/{oid.json()['order_id']}/items", {"sku": "WIDGET-A", "quantity": 1, "price_cents": 1999}
    )
    assert assert_problem(stale_add, 409, "price-changed")["current_price_cents"] == 2199
    assert event_count() == before + 1


def test_staff_may_override_the_price_with_a_reason_that_the_event_and_the_audit_show(shop, staff):
    staff_api = ApiClient(staff, settle_reads=True)
    line = {"sku": "WIDGET-A", "quantity": 1, "price_cents": 1500, "price_override_reason": "damaged box"}

    response = place(staff_api, line)

    assert response.status_code == 201, response.content
    oid = response.json()["order_id"]
    [placed] = EventStore().load(uuid.UUID(oid))
    assert placed.data["items"] == [
        {
            "sku": "WIDGET-A",
            "quantity": 1,
            "price_cents": 1500,
            "catalogue_price_cents": 1999,
            "override_reason": "damaged box",
        }
    ]
    assert placed.metadata["user_id"] == str(staff.pk)
    settle()
    page = login(staff).get(f"/orders/{oid}/").content.decode()
    assert "price overridden from €19.99 to €15.00: damaged box" in page
    audit = login(staff).get("/audit/", {"event_type": "OrderPlaced"}).content.decode()
    assert "damaged box" in audit


def test_an_override_by_someone_not_staff_is_403_and_appends_nothing(shop):
    before = event_count()
    line = {
        "sku": "WIDGET-A",
        "quantity": 1,
        "price_cents": 1500,
        "price_override_reason": "friend of the shop",
    }
    assert_problem(place(shop, line), 403, "price-override-forbidden")
    assert event_count() == before
    body = assert_problem(place(shop, {"sku": "WIDGET-A", "quantity": 1, "price_override_reason": "x"}), 400)
    assert "items[0].price_cents" in body["errors"]


def test_unknown_and_discontinued_skus_are_refused_and_append_nothing(shop):
    before = event_count()
    body = assert_problem(
        place(shop, {"sku": "WIDGET-A", "quantity": 1}, {"sku": "TYPO-1", "quantity": 1}), 400, "unknown-sku"
    )
    assert body["skus"] == ["TYPO-1"] and "TYPO-1" in body["detail"]
    shop.post("/api/products/GADGET-B/discontinue")
    body = assert_problem(place(shop, {"sku": "GADGET-B", "quantity": 1}), 409, "product-discontinued")
    assert body["skus"] == ["GADGET-B"]
    assert event_count() == before

    oid = place(shop, {"sku": "WIDGET-A", "quantity": 1}).json()["order_id"]
    assert_problem(
        shop.post(f"/api/orders/{oid}/items", {"sku": "TYPO-1", "quantity": 1}), 400, "unknown-sku"
    )
    assert_problem(
        shop.post(f"/api/orders/{oid}/items", {"sku": "GADGET-B", "quantity": 1}), 409, "product-discontinued"
    )
    assert len(EventStore().load(uuid.UUID(oid))) == 1

"""The OpenAPI schema tells the truth about the bodies the API answers.

Every 2xx answer is documented field by field: names, types, nullability,
formats (uuid, date-time, uri) and value sets. Real requests against real
products, stock, orders (confirmed with lines rejected for stock, shipped,
cancelled, placed without a contact, of a forgotten customer) and
projections (one failing, then retried) are checked against the generated
schema read strictly: a field the answer has and the schema does not name,
one the schema names and the answer lacks (a rename is both), a wrong type
or format, or a value outside its set fails the test. No 2xx answer is left
a bare object unless its description says it is free-form.

An operation added to the schema fails here until ``exchanges`` sends it a
request it answers with success. Runs on PostgreSQL and SQLite alike (the
transaction that holds projections back exists only on PostgreSQL)."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import jsonschema_rs
import pytest
from django.test import Client

from projections import failures as projection_failures
from projections import runner
from projections import status as projection_status
from tests.support import WIDGET, ApiClient, other_connection, password_of, place_order, settle, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalogue")]

JSON = "application/json"
METHODS = ("get", "post", "put", "patch", "delete")

ADA = {
    "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "shipping_address": {
        "line1": "12 Analytical Row",
        "postcode": "N1 9GU",
        "city": "London",
        "country": "GB",
    },
}
MOVED = {"line1": "1 Engine Yard", "line2": "Flat 3", "postcode": None, "city": "Dublin", "country": "IE"}
GRACE = {
    "contact": {"name": "Grace Hopper", "email": "grace@example.com"},
    "shipping_address": {"line1": "44 Compiler Court", "city": "Arlington", "country": "US"},
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def success_schemas(schema: dict) -> dict[str, dict[int, dict]]:
    """operationId -> {2xx status: the schema of its JSON body}."""
    found: dict[str, dict[int, dict]] = {}
    for item in schema["paths"].values():
        for method, spec in item.items():
            if method in METHODS:
                found[spec["operationId"]] = {
                    int(code): response.get("content", {}).get(JSON, {}).get("schema")
                    for code, response in spec["responses"].items()
                    if code.startswith("2")
                }
    return found


def strict(node: dict) -> dict:
    """An OpenAPI 3.0 schema as JSON Schema (2020-12) that refuses what it
    does not name: ``nullable`` becomes a null alternative, and an object
    that lists its properties takes no others (OpenAPI allows them, so that
    adding a field later breaks no client; this test wants each documented)."""
    out = dict(node)
    if "properties" in out:
        out["properties"] = {name: strict(sub) for name, sub in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = strict(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [strict(sub) for sub in out[key]]
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def body_errors(schema: dict, body_schema: dict, body) -> list[str]:
    """Where ``body`` departs from ``body_schema`` (read strictly), formats checked."""
    components = {name: strict(sub) for name, sub in schema["components"]["schemas"].items()}
    document = {**strict(body_schema), "components": {"schemas": components}}
    validator = jsonschema_rs.Draft202012Validator(document, validate_formats=True)
    return [f"at /{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]


def mismatches(schema: dict, documented: dict[int, dict], op_id: str, response) -> list[str]:
    status = response.status_code
    where = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']} ({op_id}) {status}"
    if status not in documented:
        return [f"{where}: documents only {sorted(documented)} as success; {response.content[:300]!r}"]
    if documented[status] is None:
        return [f"{where}: no JSON body documented"]
    if response["Content-Type"] != JSON:
        return [f"{where}: Content-Type {response['Content-Type']}"]
    return [f"{where} {error}" for error in body_errors(schema, documented[status], response.json())]


# -- the requests ------------------------------------------------------------------------


def send(api: ApiClient, method: str, path: str, body=None):
    data = json.dumps(body) if body is not None else ""
    return api.client.generic(method, path, data, content_type=JSON, headers=api.headers)


def exchanges(api: ApiClient, staff, break_projection) -> Iterator[tuple[str, object]]:
    """(operationId, response) of real requests, each one the operation answers with success."""
    token = {"username": staff.username, "password": password_of(staff.username)}
    yield "obtain_token", Client().post("/api/auth/token", json.dumps(token), content_type=JSON)

    # The catalogue and its stock.
    lamp = {"sku": "LAMP-1", "name": "Desk lamp", "description": "Brass, 40 cm", "price_cents": 4550}
    yield "add_product", api.post("/api/products/", lamp)
    yield "change_product_price", api.post("/api/products/LAMP-1/price", {"price_cents": 4600})
    yield "rename_product", api.post("/api/products/LAMP-1/rename", {"name": "Desk lamp, brass"})
    yield "discontinue_product", api.post("/api/products/LAMP-1/discontinue")
    yield "reactivate_product", api.post("/api/products/LAMP-1/reactivate")
    for sku, quantity in (("WIDGET-A", 50), ("GADGET-B", 50), ("EXTRA-9", 2), ("LAMP-1", 5)):
        yield "receive_stock", api.post(f"/api/inventory/{sku}/receive", {"quantity": quantity})

    # A: stock reserved, but two lines find too little of it and are rejected; moved; shipped.
    lines = [
        {"sku": "WIDGET-A", "quantity": 2},
        {"sku": "NEW-1", "quantity": 1},
        {"sku": "EXTRA-9", "quantity": 5, "price_cents": 300},
    ]
    placed = api.post("/api/orders/", {"customer_id": "cust_ada", "items": lines, **ADA})
    yield "place_order", placed
    a = placed.json()["order_id"]
    settle()  # the stock is reserved, lines rejected, the order confirmed
    yield "add_note", api.post(f"/api/orders/{a}/notes", {"text": "Gift wrap,\nplease."})
    yield "change_shipping_address", api.post(f"/api/orders/{a}/shipping-address", MOVED)
    settle()
    yield "ship_order", api.post(f"/api/orders/{a}/ship", {"carrier": "DHL", "tracking_number": "JD0001"})

    # B: placed without a contact (deprecated), a line at a price staff set, changed, cancelled.
    placed = api.post(
        "/api/orders/", {"customer_id": "cust_b", "items": [{"sku": "WIDGET-A", "quantity": 1}]}
    )
    yield "place_order", placed
    b = placed.json()["order_id"]
    override = {
        "sku": "GADGET-B",
        "quantity": 2,
        "price_cents": 450,
        "price_override_reason": "Loyal customer",
    }
    yield "add_item", api.post(f"/api/orders/{b}/items", override)
    yield "add_item", api.post(f"/api/orders/{b}/items", {"sku": "LAMP-1", "quantity": 1})
    yield "change_line_quantity", send(api, "PUT", f"/api/orders/{b}/items/GADGET-B", {"quantity": 3})
    yield "patch_line_quantity", send(api, "PATCH", f"/api/orders/{b}/items/GADGET-B", {"quantity": 4})
    yield "remove_item", api.delete(f"/api/orders/{b}/items/LAMP-1")
    yield "cancel_order", api.post(f"/api/orders/{b}/cancel", {"reason": "Changed my mind."})

    # C: open, of a customer forgotten further down.
    placed = api.post(
        "/api/orders/", {"customer_id": "cust_grace", "items": [{"sku": "GADGET-B", "quantity": 1}], **GRACE}
    )
    yield "place_order", placed
    c = placed.json()["order_id"]

    # The reads (each settles the projections first).
    first = api.get("/api/orders/", limit=2)
    yield "list_orders", first
    yield "list_orders", api.client.get(first.json()["next"], headers=api.headers)  # next and previous
    yield "list_orders", api.get("/api/orders/", status="cancelled", customer_email="ada@example.com")
    for order in (a, b, c):
        yield "get_order", api.get(f"/api/orders/{order}")
        yield "order_events", api.get(f"/api/orders/{order}/events")
        yield "order_state_at", api.get(f"/api/orders/{order}/state")
    yield "order_events", api.get(f"/api/orders/{a}/events", limit=2)  # with a next page
    yield "order_state_at", api.get(f"/api/orders/{a}/state", at=datetime.now(UTC).isoformat())
    for customer in ("cust_ada", "cust_b"):
        yield "get_customer", api.get(f"/api/customers/{customer}")
    yield "list_products", api.get("/api/products/", limit=2)
    yield "list_products", api.get("/api/products/", q="lamp", active="true")
    yield "get_product", api.get("/api/products/LAMP-1")
    yield "list_inventory", api.get("/api/inventory/")
    yield "list_inventory", api.get("/api/inventory/", limit=1)
    yield "event_catalog", api.get("/api/catalog/events")

    # Forgetting a customer, and what the reads answer then.
    yield "forget_customer", api.post("/api/customers/cust_grace/forget")
    yield "forget_customer", api.post("/api/customers/cust_grace/forget")  # again: nothing recorded
    yield "get_customer", api.get("/api/customers/cust_grace")
    yield "get_order", api.get(f"/api/orders/{c}")
    yield "order_events", api.get(f"/api/orders/{c}/events")
    yield "order_state_at", api.get(f"/api/orders/{c}/state")

    # The projections' status: all running; one failing on an order's events; retried.
    yield "projection_status", api.get("/api/projections/")
    poison = uuid.uuid4()
    fix = break_projection("daily_sales", poison)
    place_order("cust_d", [WIDGET], order_id=poison)
    runner.run_all()
    yield "projection_status", api.get("/api/projections/", settle_first=False)
    fix()
    projection_failures.retry("daily_sales", by="ops")
    yield "projection_status", api.get("/api/projections/")


def test_every_success_answers_the_body_its_schema_documents(schema, staff, settings, break_projection):
    settings.PROJECTIONS_MODE = "inprocess"
    settings.INVENTORY_RESERVATION = True
    documented = success_schemas(schema)
    failures, answered = [], set()
    for op_id, response in exchanges(ApiClient(staff, settle_reads=True), staff, break_projection):
        assert op_id in documented, f"{op_id} is not in the schema"
        answered.add(op_id)
        failures += mismatches(schema, documented[op_id], op_id, response)
    assert not failures, "\n".join(failures)
    assert set(documented) <= answered, f"no request sent to {sorted(set(documented) - answered)}"


@pytest.mark.postgres
def test_the_status_names_a_transaction_holding_projections_back_as_documented(schema, staff, monkeypatch):
    monkeypatch.setattr(projection_status, "HOLDING_BACK_AFTER_SECONDS", 0.1)
    api = ApiClient(staff)
    with other_connection() as stuck:
        stuck.execute("SELECT pg_current_xact_id()")  # holds a transaction id, stays open
        place_order("cust_1", [WIDGET])
        runner.run_all()

        def held_back():
            response = api.get("/api/projections/")
            return response if response.json()["held_back_by"] else None

        response = wait_until(held_back, 10, "an open transaction named")
    documented = success_schemas(schema)["projection_status"]
    assert mismatches(schema, documented, "projection_status", response) == []


def test_the_check_refuses_a_renamed_field_a_changed_type_and_an_unknown_value(schema, staff, settings):
    settings.PROJECTIONS_MODE = "inprocess"
    api = ApiClient(staff, settle_reads=True)
    order = api.place("cust_1")["order_id"]
    body = api.get(f"/api/orders/{order}").json()
    documented = success_schemas(schema)["get_order"][200]
    assert body_errors(schema, documented, body) == []

    renamed = {("total" if k == "total_cents" else k): v for k, v in body.items()}
    line = {**body["items"][0], "quantity": str(body["items"][0]["quantity"])}
    changes = {
        "a renamed field": renamed,
        "a field more": {**body, "note": "?"},
        "a field less": {k: v for k, v in body.items() if k != "carrier"},
        "a number as text": {**body, "version": str(body["version"])},
        "null where it cannot be": {**body, "placed_at": None},
        "not a date-time": {**body, "placed_at": "yesterday"},
        "not a uuid": {**body, "order_id": "42"},
        "a status outside its set": {**body, "status": "lost"},
        "a nested change": {**body, "items": [line]},
    }
    for what, changed in changes.items():
        assert body_errors(schema, documented, changed), f"{what} passed"


def untyped(schema: dict, node: dict, where: str, seen: set[str]) -> Iterator[str]:
    """Where the answer ``node`` documents is left untyped: an object
    without properties (unless its description says it is free-form),
    a value without a type, or a field documented as optional (every
    answer has each of its fields)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from untyped(schema, schema["components"]["schemas"][name], name, seen)
        return
    free_form = "free-form" in node.get("description", "").lower()
    if node.get("type") == "object" or "properties" in node or "additionalProperties" in node:
        if "properties" in node:
            for name, sub in node["properties"].items():
                yield from untyped(schema, sub, f"{where}.{name}", seen)
            if optional := sorted(set(node["properties"]) - set(node.get("required", []))):
                yield f"{where}: {optional} documented as optional, but every answer has them"
        elif isinstance(node.get("additionalProperties"), dict) and node["additionalProperties"]:
            yield from untyped(schema, node["additionalProperties"], f"{where}.*", seen)  # a typed map
        elif not free_form:
            yield f"{where}: an object without properties (or a description saying it is free-form)"
        return
    if node.get("type") == "array":
        yield from untyped(schema, node.get("items", {}), f"{where}[]", seen)
        return
    parts = [sub for key in ("allOf", "anyOf", "oneOf") for sub in node.get(key, [])]
    for sub in parts:
        yield from untyped(schema, sub, where, seen)
    if not parts and "type" not in node and "enum" not in node and not free_form:
        yield f"{where}: no type"


def test_every_success_is_documented_field_by_field(schema):
    failures, seen = [], set()
    for op_id, answers in success_schemas(schema).items():
        for status, body_schema in answers.items():
            if body_schema is None:
                failures.append(f"{op_id} {status}: no JSON body documented")
            else:
                failures += untyped(schema, body_schema, f"{op_id} {status}", seen)
    assert not failures, "\n".join(failures)

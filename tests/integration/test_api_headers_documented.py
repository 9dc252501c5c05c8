"""The OpenAPI schema declares the response headers the API sends, on the
operations and statuses that carry them: the token challenge on every 401,
Retry-After on a throttled 429 and on a read that could not wait for its
X-Min-Position (503), and on a command's success its ETag, Location for
something new, and Idempotent-Replayed when it is the stored answer to a
retry. The real answers carry them as declared.

(Every probe of test_api_statuses_documented also checks that the headers
an answer carries are declared on its status.)"""

import uuid

import jsonschema
import pytest
from rest_framework.throttling import ScopedRateThrottle

from tests.support import ApiClient, password_of, stock_catalogue

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict) -> dict[str, dict]:
    """Each operation's spec by its operationId."""
    return {
        spec["operationId"]: spec
        for item in schema["paths"].values()
        for method, spec in item.items()
        if method in METHODS
    }


def headers_on(spec: dict, status: int | str) -> dict[str, dict]:
    return spec["responses"].get(str(status), {}).get("headers", {})


def request_headers(spec: dict) -> set[str]:
    return {p["name"] for p in spec.get("parameters", []) if p["in"] == "header"}


def assert_carried_as_declared(schema: dict, operation_id: str, response, *names: str) -> None:
    """``response`` (an answer of ``operation_id``) carries each header of
    ``names``, declared on its status, with a value its schema allows."""
    declared = headers_on(operations(schema)[operation_id], response.status_code)
    for name in names:
        assert name in response, f"{operation_id} {response.status_code} does not carry {name}"
        assert name in declared, f"{operation_id} {response.status_code} carries {name}, not declared"
        value_schema = declared[name]["schema"]
        value = int(response[name]) if value_schema.get("type") == "integer" else response[name]
        jsonschema.validate(value, value_schema)


# -- what the schema declares ----------------------------------------------------------------


def test_every_401_declares_the_token_challenge(schema):
    ops = operations(schema)
    with_401 = {op_id for op_id, spec in ops.items() if "401" in spec["responses"]}
    assert with_401 == set(ops)  # any operation: credentials missing, or sent and not valid
    for op_id in with_401:
        challenge = headers_on(ops[op_id], 401).get("WWW-Authenticate")
        assert challenge and challenge["required"] is True, op_id
        assert 'Token realm="api"' in challenge["description"], op_id


def test_throttled_and_lagging_answers_declare_retry_after(schema):
    ops = operations(schema)
    throttled = {op_id for op_id, spec in ops.items() if "429" in spec["responses"]}
    lagging = {op_id for op_id, spec in ops.items() if "503" in spec["responses"]}
    assert "obtain_token" in throttled and {"list_orders", "get_order", "get_customer"} <= lagging
    for op_id in throttled:
        retry_after = headers_on(ops[op_id], 429).get("Retry-After")
        assert retry_after and retry_after["schema"]["type"] == "integer", op_id
    for op_id in lagging:
        retry_after = headers_on(ops[op_id], 503).get("Retry-After")
        assert retry_after and retry_after["required"] is True, op_id
        assert retry_after["schema"]["type"] == "integer", op_id


def test_commands_declare_etag_location_and_replays_on_their_success(schema):
    failures = []
    for op_id, spec in operations(schema).items():
        takes_key = "Idempotency-Key" in request_headers(spec)
        for code in spec["responses"]:
            declared = set(headers_on(spec, code))
            success = code.startswith("2")
            if ("Idempotent-Replayed" in declared) != (takes_key and success):
                failures.append(f"{op_id} {code}: takes Idempotency-Key: {takes_key}, declares {declared}")
            if takes_key and success and "ETag" not in declared:
                failures.append(f"{op_id} {code}: a command's success without its ETag")
            if ("Location" in declared) != (code == "201"):
                failures.append(f"{op_id} {code}: declares {declared}")
    assert not failures, "\n".join(failures)


def test_a_method_no_operation_lists_is_documented_as_405_with_allow(schema):
    """No operation can answer 405 (a path's own methods have their
    handlers), so the API's description says it, not an operation."""
    assert "405 with an `Allow` header" in schema["info"]["description"]
    assert all("405" not in spec["responses"] for spec in operations(schema).values())


# -- what the answers carry ------------------------------------------------------------------


def test_replayed_commands_carry_the_headers_declared(schema, staff):
    api = ApiClient(staff)
    order_id = api.place("cust_headers")["order_id"]
    stock_catalogue([("HDR-1", 0, 100)])
    commands = [
        (
            "place_order",
            "/api/orders/",
            {"customer_id": "cust_headers", "items": [{"sku": "HDR-1", "quantity": 1}]},
        ),
        ("add_note", f"/api/orders/{order_id}/notes", {"text": "Gift wrap"}),
        ("add_product", "/api/products/", {"sku": "HDR-NEW", "name": "New", "price_cents": 100}),
        ("receive_stock", "/api/inventory/HDR-1/receive", {"quantity": 3}),
        ("forget_customer", "/api/customers/cust_headers/forget", None),
    ]
    for op_id, path, body in commands:
        key = {"Idempotency-Key": f"headers-{uuid.uuid4()}"}
        first = api.post(path, body, headers=key)
        again = api.post(path, body, headers=key)

        assert first.status_code == again.status_code in (200, 201), (op_id, again.content)
        assert "Idempotent-Replayed" not in first, op_id
        carried = ("ETag", "Location") if again.status_code == 201 else ("ETag",)
        assert_carried_as_declared(schema, op_id, first, *carried)
        assert_carried_as_declared(schema, op_id, again, "Idempotent-Replayed", *carried)


def test_a_throttled_token_request_carries_retry_after_as_declared(schema, manager, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "1/min"})
    api = ApiClient()
    assert api.post("/api/auth/token", {"username": "manager", "password": "wrong"}).status_code == 400

    blocked = api.post("/api/auth/token", {"username": "manager", "password": password_of("manager")})

    assert blocked.status_code == 429
    assert_carried_as_declared(schema, "obtain_token", blocked, "Retry-After")


def test_a_read_that_cannot_wait_for_its_position_carries_retry_after_as_declared(schema, staff, settings):
    settings.PROJECTIONS_MODE = "off"
    settings.READ_YOUR_WRITES_TIMEOUT = 0.1
    api = ApiClient(staff)
    placed = api.place("cust_lagging")
    wait_for = {"X-Min-Position": placed["consistency_token"]}

    for op_id, path in (("get_order", f"/api/orders/{placed['order_id']}"), ("list_orders", "/api/orders/")):
        lagging = api.get(path, headers=wait_for, settle_first=False)

        assert lagging.status_code == 503, (op_id, lagging.content)
        assert_carried_as_declared(schema, op_id, lagging, "Retry-After", "X-Consistency-Token")


def test_how_far_the_read_models_are_is_declared_only_on_what_they_answered(schema, staff):
    """X-Consistency-Token and X-Projection-Position come with an answer the
    read models gave (200, 404, 503), not with a refusal before they were
    asked: a malformed query, missing credentials or an Accept it cannot meet."""
    # The read-model reads (those of the log itself answer a bad X-Min-Position with them too).
    reads = {op: spec for op, spec in operations(schema).items() if "503" in spec["responses"]}
    assert {"list_orders", "get_order"} <= set(reads)
    for op, spec in reads.items():
        for status in spec["responses"]:
            declared = set(headers_on(spec, status)) & {"X-Consistency-Token", "X-Projection-Position"}
            assert bool(declared) == (status in ("200", "404", "503")), (op, status, declared)
    refused = ApiClient(staff).get("/api/orders/", limit=0)
    assert refused.status_code == 400 and "X-Consistency-Token" not in refused

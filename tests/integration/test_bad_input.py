"""A corpus of hostile and malformed requests against every command endpoint:
never a 5xx, always a problem+json answer, never an event appended."""

import json
import uuid

import pytest

from tests.support import LINE_A, event_count

pytestmark = pytest.mark.django_db


BODIES = {
    "wrong types": {"customer_id": ["c"], "items": {"sku": 1}},
    "string numbers": {"customer_id": "c1", "items": [{"sku": "A", "quantity": "2", "price_cents": "1"}]},
    "bool as int": {"customer_id": "c1", "items": [{"sku": "A", "quantity": True, "price_cents": 1}]},
    "float quantity": {"customer_id": "c1", "items": [{"sku": "A", "quantity": 1.5, "price_cents": 1}]},
    "negative": {"customer_id": "c1", "items": [{"sku": "A", "quantity": -1, "price_cents": -1}]},
    "huge": {"customer_id": "c1", "items": [{"sku": "A", "quantity": 10**18, "price_cents": 10**18}]},
    "unknown fields": {"customer_id": "c1", "items": [LINE_A], "discount": 50},
    "unknown nested": {"customer_id": "c1", "items": [{**LINE_A, "colour": "red"}]},
    "missing fields": {"items": [{"sku": "A"}]},
    "empty object": {},
    "too many lines": {"customer_id": "c1", "items": [{**LINE_A, "sku": f"S{i}"} for i in range(101)]},
    "empty items": {"customer_id": "c1", "items": []},
    "null everywhere": {"customer_id": None, "items": None, "sku": None, "reason": None},
    "sql in sku": {"customer_id": "c1", "items": [{**LINE_A, "sku": "A'; DROP TABLE events;--"}]},
    "unicode sku": {"customer_id": "c1", "items": [{**LINE_A, "sku": "ÄÖÜ"}]},
    "long text": {"customer_id": "c" * 5000, "reason": "r" * 5000, "carrier": "x" * 5000},
    "control chars": {"customer_id": "c1\u0000", "reason": "\u0000", "carrier": "\u0007"},
    "blank reason": {"reason": "   "},
}
RAW = {
    "deep nesting": b'{"customer_id": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "non-utf8": b'{"customer_id": "\xff\xfe\xfa", "items": []}',
    "lone surrogate": b'{"customer_id": "\\ud800", "items": []}',
    "truncated": b'{"customer_id": "c1", "items": [{"sku": ',
    "nan": b'{"quantity": NaN, "price_cents": Infinity}',
    "duplicate keys": b'{"reason": "a", "reason": 5}',
    "ten megabytes": b'{"customer_id": "' + b"x" * (10 * 1024 * 1024) + b'"}',
    "not json": b"<xml>hello</xml>",
    "empty": b"",
}


def targets(order_id):
    return [
        ("post", "/api/orders/"),
        ("post", f"/api/orders/{order_id}/items"),
        ("post", f"/api/orders/{order_id}/ship"),
        ("post", f"/api/orders/{order_id}/cancel"),
    ]


def assert_refused(response, before):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code
    assert event_count() == before


@pytest.mark.parametrize("name", sorted(BODIES))
def test_malformed_json_bodies_are_refused_cleanly(client, staff_headers, placed_order_id, name):
    before = event_count()
    for method, path in targets(placed_order_id):
        if name == "blank reason" and not path.endswith("cancel"):
            continue
        if name == "empty object" and path.endswith("/ship"):
            continue  # shipping needs no fields: {} is a valid ship command
        response = getattr(client, method)(
            path, data=json.dumps(BODIES[name]), content_type="application/json", headers=staff_headers
        )
        assert_refused(response, before)


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_garbage_is_refused_cleanly(client, staff_headers, placed_order_id, name):
    before = event_count()
    for method, path in targets(placed_order_id):
        response = getattr(client, method)(
            path, data=RAW[name], content_type="application/json", headers=staff_headers
        )
        if name == "empty" and path.endswith("/ship"):
            assert response.status_code == 200  # shipping needs no body
            return
        assert_refused(response, before)


@pytest.mark.parametrize(
    "path",
    [
        "/api/orders/not-a-uuid/ship",
        "/api/orders/00000000-0000-0000-0000-00000000000g/items",
        "/api/orders/%00/cancel",
        "/api/orders/../../etc/passwd/ship",
        "/api/orders/" + "a" * 5000 + "/ship",
    ],
)
def test_invalid_ids_in_the_path_get_404(client, staff_headers, path):
    before = event_count()
    assert_refused(
        client.post(path, data="{}", content_type="application/json", headers=staff_headers), before
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "not-a-version"},
        {"If-Match": '"99999999999999999999"'},
        {"Idempotency-Key": ""},
        {"Idempotency-Key": "ключ"},
        {"X-Correlation-ID": "x" * 500},
        {"Authorization": "Token " + "x" * 5000},
        {"Authorization": "Bearer abc"},
    ],
)
def test_malformed_headers_are_refused_cleanly(client, staff_headers, placed_order_id, headers):
    before = event_count()
    response = client.post(
        f"/api/orders/{placed_order_id}/items",
        data=json.dumps(LINE_A),
        content_type="application/json",
        headers={**staff_headers, **headers},
    )
    if headers.get("Authorization", "").startswith("Bearer"):
        # An unknown scheme is ignored, so the token in `staff_headers` is replaced: anonymous.
        assert response.status_code == 401
    assert_refused(response, before)


def test_a_wrong_charset_or_content_type_is_415(client, staff_headers, placed_order_id):
    before = event_count()
    response = client.post(
        f"/api/orders/{placed_order_id}/items",
        data=json.dumps(LINE_A),
        content_type="text/csv",
        headers=staff_headers,
    )
    assert response.status_code == 415
    assert_refused(response, before)


def test_unknown_order_in_every_command_is_404(client, staff_headers):
    before = event_count()
    missing = uuid.uuid4()
    for method, path in targets(missing)[1:]:
        body = {"reason": "x"} if path.endswith("cancel") else LINE_A if path.endswith("items") else {}
        response = getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", headers=staff_headers
        )
        assert response.status_code == 404
        assert_refused(response, before)

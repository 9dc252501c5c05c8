"""A corpus of hostile and malformed requests against every command endpoint:
never a 5xx, always a problem+json answer, never an event appended."""

import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from orders import commands
from orders.domain import Line

pytestmark = pytest.mark.django_db

GOOD_LINE = {"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}

BODIES = {
    "wrong types": {"customer_id": ["c"], "items": {"sku": 1}},
    "string numbers": {"customer_id": "c1", "items": [{"sku": "A", "quantity": "2", "price_cents": "1"}]},
    "bool as int": {"customer_id": "c1", "items": [{"sku": "A", "quantity": True, "price_cents": 1}]},
    "float quantity": {"customer_id": "c1", "items": [{"sku": "A", "quantity": 1.5, "price_cents": 1}]},
    "negative": {"customer_id": "c1", "items": [{"sku": "A", "quantity": -1, "price_cents": -1}]},
    "huge": {"customer_id": "c1", "items": [{"sku": "A", "quantity": 10**18, "price_cents": 10**18}]},
    "unknown fields": {"customer_id": "c1", "items": [GOOD_LINE], "discount": 50},
    "unknown nested": {"customer_id": "c1", "items": [{**GOOD_LINE, "colour": "red"}]},
    "missing fields": {"items": [{"sku": "A"}]},
    "empty object": {},
    "too many lines": {"customer_id": "c1", "items": [{**GOOD_LINE, "sku": f"S{i}"} for i in range(101)]},
    "empty items": {"customer_id": "c1", "items": []},
    "null everywhere": {"customer_id": None, "items": None, "sku": None, "reason": None},
    "sql in sku": {"customer_id": "c1", "items": [{**GOOD_LINE, "sku": "A'; DROP TABLE events;--"}]},
    "unicode sku": {"customer_id": "c1", "items": [{**GOOD_LINE, "sku": "ÄÖÜ"}]},
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


@pytest.fixture
def auth():
    user = User.objects.create_user("tester", password="pw-tester-123", is_staff=True)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.fixture
def order_id():
    return commands.execute(commands.PlaceOrder("c1", (Line("WIDGET-A", 1, 1999), Line("B", 1, 1)))).order_id


def targets(order_id):
    return [
        ("post", "/api/orders/"),
        ("post", f"/api/orders/{order_id}/items"),
        ("post", f"/api/orders/{order_id}/ship"),
        ("post", f"/api/orders/{order_id}/cancel"),
    ]


def event_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        return cursor.fetchone()[0]


def assert_refused(response, before):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code
    assert event_count() == before


@pytest.mark.parametrize("name", sorted(BODIES))
def test_malformed_json_bodies_are_refused_cleanly(client, auth, order_id, name):
    before = event_count()
    for method, path in targets(order_id):
        if name == "blank reason" and not path.endswith("cancel"):
            continue
        if name == "empty object" and path.endswith("/ship"):
            continue  # shipping needs no fields: {} is a valid ship command
        response = getattr(client, method)(
            path, data=json.dumps(BODIES[name]), content_type="application/json", headers=auth
        )
        assert_refused(response, before)


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_garbage_is_refused_cleanly(client, auth, order_id, name):
    before = event_count()
    for method, path in targets(order_id):
        response = getattr(client, method)(
            path, data=RAW[name], content_type="application/json", headers=auth
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
def test_invalid_ids_in_the_path_get_404(client, auth, path):
    before = event_count()
    assert_refused(client.post(path, data="{}", content_type="application/json", headers=auth), before)


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
def test_malformed_headers_are_refused_cleanly(client, auth, order_id, headers):
    before = event_count()
    response = client.post(
        f"/api/orders/{order_id}/items",
        data=json.dumps(GOOD_LINE),
        content_type="application/json",
        headers={**auth, **headers},
    )
    if headers.get("Authorization", "").startswith("Bearer"):
        # An unknown scheme is ignored, so the token in `auth` is replaced: anonymous.
        assert response.status_code == 401
    assert_refused(response, before)


def test_a_wrong_charset_or_content_type_is_415(client, auth, order_id):
    before = event_count()
    response = client.post(
        f"/api/orders/{order_id}/items", data=json.dumps(GOOD_LINE), content_type="text/csv", headers=auth
    )
    assert response.status_code == 415
    assert_refused(response, before)


def test_unknown_order_in_every_command_is_404(client, auth):
    before = event_count()
    missing = uuid.uuid4()
    for method, path in targets(missing)[1:]:
        body = {"reason": "x"} if path.endswith("cancel") else GOOD_LINE if path.endswith("items") else {}
        response = getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", headers=auth
        )
        assert response.status_code == 404
        assert_refused(response, before)

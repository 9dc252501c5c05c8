"""POST /api/auth/token answers as the README says: 200 with a token for
good credentials; problem+json 400 for bad credentials, missing fields or
malformed JSON, 413 for a body over API_MAX_BODY_BYTES, 415 for a body
that is not JSON, 405 for a GET, 429 once
the client has tried too often (AUTH_THROTTLE_RATE)."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from tests.support import ApiClient, assert_problem, password_of

pytestmark = pytest.mark.django_db

URL = "/api/auth/token"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()  # the throttle's counts live in the shared cache
    yield
    cache.clear()


def test_good_credentials_get_a_token(manager):
    response = ApiClient().post(URL, {"username": "manager", "password": password_of("manager")})

    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


@pytest.mark.parametrize(
    "body",
    [
        {"username": "manager", "password": "wrong"},
        {"username": "nobody", "password": "whatever"},
        {"username": "manager"},
        {},
    ],
)
def test_bad_or_missing_credentials_are_400(manager, body):
    assert_problem(ApiClient().post(URL, body), 400)


def test_a_field_the_endpoint_does_not_take_is_400_and_gets_no_token(manager):
    body = {"username": "manager", "password": password_of("manager"), "remember_me": True}

    problem = assert_problem(ApiClient().post(URL, body), 400)

    assert problem["errors"] == {"remember_me": ["Unknown field."]}


def test_malformed_json_is_400_too_large_413_another_content_type_415(manager):
    client = ApiClient()

    assert_problem(client.post(URL, raw='{"username": "manager",'), 400)
    assert_problem(
        client.post(URL, raw="username=manager&password=x", content_type="application/x-www-form-urlencoded"),
        415,
    )
    assert_problem(client.post(URL, raw='{"username": "' + "x" * 70_000 + '"}'), 413)
    assert_problem(client.client.get(URL), 405)


def test_too_many_attempts_are_429(manager, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    client = ApiClient()

    for _ in range(3):
        assert client.post(URL, {"username": "manager", "password": "wrong"}).status_code == 400
    blocked = client.post(URL, {"username": "manager", "password": password_of("manager")})

    body = assert_problem(blocked, 429)
    assert int(blocked["Retry-After"]) > 0
    assert "throttled" in body["detail"].lower() or "try again" in body["detail"].lower()

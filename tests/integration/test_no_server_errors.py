"""Whatever a client puts in a query string, the pages and the read API
answer with the page, a form error or a 4xx problem: never a 500. Property
based (Hypothesis), and run on SQLite too by `make test` (its dates and
integers overflow differently from PostgreSQL's)."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import ApiClient, login, place_order

# Values that have broken parsers before: digits that are not ASCII, numbers
# past 64 bits, the calendar's edges with offsets, ids and tokens half right.
EDGES = [
    "²",
    "\uff11\uff12",  # fullwidth 12
    "٣",
    str(2**63),
    str(2**64 - 1),
    "-" + str(2**63 + 1),
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
    "0001-01-01T00:00",
    "abcd",
    "00000000",
    "0000000000000001.0000000000000001",
    "ffffffffffffffff.ffffffffffffffff",
    "-placed_at",
    "placed",
    "",
    " ",
    "\x00",
]
values = st.one_of(st.sampled_from(EDGES), st.text(max_size=40), st.integers().map(str))

PAGES = {
    "/orders/": ["q", "status", "customer_id", "placed_from", "placed_to", "total_min", "total_max",
                 "ordering", "cursor", "page_size", "per_page", "form"],
    "/orders/export.csv": ["q", "status", "customer_id", "placed_from", "placed_to", "total_min", "total_max",
                           "ordering", "per_page"],
    "/inventory/": ["after", "low"],
    "/audit/": ["aggregate_id", "aggregate_type", "event_type", "user", "correlation_id", "since", "until",
                "before"],
    "/dashboard/": ["days"],
    "/api/orders/": ["status", "customer_id", "customer_prefix", "placed_from", "placed_to", "total_min",
                     "total_max", "ordering", "cursor", "limit"],
    "/api/inventory/": ["sku", "available_max", "after", "limit"],
}  # fmt: skip
ORDER_PAGES = {"/orders/{id}/": ["after", "as_of", "form"],
               "/orders/{id}/cancel/confirm": ["version", "reason"],
               "/orders/{id}/remove/confirm": ["version", "sku"],
               "/api/orders/{id}/state": ["at"],
               "/api/orders/{id}/events": ["after_version", "limit"]}  # fmt: skip

pytestmark = pytest.mark.django_db
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def order_id():
    return place_order().order_id


@pytest.mark.parametrize("path", sorted(PAGES))
@SETTINGS
@given(data=st.data())
def test_no_query_string_makes_a_list_page_or_read_fail(path, staff, data):
    params = {
        name: data.draw(values, label=name) for name in data.draw(st.sets(st.sampled_from(PAGES[path])))
    }
    client = ApiClient(staff) if path.startswith("/api/") else login(staff)
    response = client.get(path, **params) if path.startswith("/api/") else client.get(path, params)
    assert response.status_code < 500, (path, params, response.content[:300])
    if response.streaming:  # the CSV export: reading it all must not fail either
        b"".join(response.streaming_content)


@pytest.mark.parametrize("path", sorted(ORDER_PAGES))
@SETTINGS
@given(data=st.data())
def test_no_query_string_makes_an_order_page_or_read_fail(path, staff, order_id, data):
    names = data.draw(st.sets(st.sampled_from(ORDER_PAGES[path])))
    params = {name: data.draw(values, label=name) for name in names}
    target = path.format(id=data.draw(st.sampled_from([order_id, uuid.uuid4()])))
    if target.startswith("/api/"):
        response = ApiClient(staff).get(target, **params)
    else:
        response = login(staff).get(target, params)
    assert response.status_code < 500, (target, params, response.content[:300])


@SETTINGS
@given(value=values)
def test_no_x_min_position_makes_a_read_fail(staff, settings, value):
    settings.READ_YOUR_WRITES_TIMEOUT = 0.05
    response = ApiClient(staff).get("/api/orders/", {"X-Min-Position": value.replace("\x00", "")})
    assert response.status_code < 500, (value, response.content[:300])

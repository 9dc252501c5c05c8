"""Commands racing on one order over HTTP, each client on its own thread and
database connection, committing for real."""

import json
import threading
import uuid

import pytest
from django.test import Client

from eventstore import EventStore
from orders import idempotency
from tests.support import ApiClient, stock_catalogue

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]


def post(path, body, headers):
    """POST ``body`` as JSON with a test client of its own (one per thread)."""
    return Client().post(path, data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture(autouse=True)
def sku_catalogue(catalogue):
    """The catalogue sells what these clients add: SKU-0 .. SKU-7 at 1.00, ONE and TWICE at 0.05."""
    stock_catalogue([*((f"SKU-{n}", 1, 100) for n in range(8)), ("ONE", 1, 5), ("TWICE", 1, 5)])


@pytest.fixture
def order_id(staff) -> str:
    """An open order of one unit of BASE at 1 cent, placed over HTTP: its id."""
    return ApiClient(staff).place("c1", [{"sku": "BASE", "quantity": 1, "price_cents": 1}])["order_id"]


def test_eight_clients_adding_items_at_once_are_all_applied_exactly_once(
    staff_headers, order_id, run_in_threads
):
    barrier = threading.Barrier(8)

    def client(n):
        barrier.wait()
        return post(
            f"/api/orders/{order_id}/items",
            {"sku": f"SKU-{n}", "quantity": n + 1, "price_cents": 100},
            staff_headers,
        )

    responses = run_in_threads(*[lambda n=n: client(n) for n in range(8)])
    assert [r.status_code for r in responses] == [200] * 8
    versions = sorted(r.json()["version"] for r in responses)
    assert versions == list(range(2, 10))

    events = EventStore().load(uuid.UUID(order_id))
    assert [e.version for e in events] == list(range(1, 10))
    added = sorted(e.data["sku"] for e in events if e.event_type == "ItemAdded")
    assert added == sorted(f"SKU-{n}" for n in range(8))
    # every running total is consistent with the order it was applied in
    total = 1
    for e in events[1:]:
        total += e.data["quantity"] * e.data["price_cents"]
        assert e.data["order_total_cents"] == total


def test_with_a_shared_stale_if_match_exactly_one_client_wins(staff_headers, order_id, run_in_threads):
    barrier = threading.Barrier(8)

    def client(n):
        barrier.wait()
        headers = {**staff_headers, "If-Match": '"1"'}
        return post(
            f"/api/orders/{order_id}/items", {"sku": f"SKU-{n}", "quantity": 1, "price_cents": 100}, headers
        )

    responses = run_in_threads(*[lambda n=n: client(n) for n in range(8)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [412] * 7
    assert all(r["Content-Type"] == "application/problem+json" for r in responses if r.status_code == 412)
    assert [e.version for e in EventStore().load(uuid.UUID(order_id))] == [1, 2]


def test_the_same_idempotent_request_sent_concurrently_appends_once(staff_headers, run_in_threads):
    before = EventStore().read_all(limit=100000)
    barrier = threading.Barrier(4)
    headers = {**staff_headers, "Idempotency-Key": "burst-1"}
    body = {"customer_id": "c-burst", "items": [{"sku": "ONE", "quantity": 1, "price_cents": 5}]}

    def client():
        barrier.wait()
        return post("/api/orders/", body, headers)

    responses = run_in_threads(*[client] * 4)
    assert {r.status_code for r in responses} == {201}
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    after = EventStore().read_all(limit=100000)
    new = [e for e in after if e.position not in {b.position for b in before}]
    assert [e.event_type for e in new] == ["OrderPlaced"]


def test_the_same_idempotent_add_item_sent_concurrently_appends_once(staff_headers, order_id, run_in_threads):
    barrier = threading.Barrier(4)
    headers = {**staff_headers, "Idempotency-Key": "add-once"}

    def client():
        barrier.wait()
        return post(
            f"/api/orders/{order_id}/items", {"sku": "TWICE", "quantity": 1, "price_cents": 5}, headers
        )

    responses = run_in_threads(*[client] * 4)
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["version"] for r in responses} == {2}
    assert [e.version for e in EventStore().load(uuid.UUID(order_id))] == [1, 2]


def test_a_retry_racing_its_first_send_with_if_match_gets_the_first_answer(
    staff_headers, order_id, run_in_threads
):
    barrier = threading.Barrier(2)
    headers = {**staff_headers, "If-Match": '"1"', "Idempotency-Key": "ship-once"}

    def client():
        barrier.wait()
        return Client().post(
            f"/api/orders/{order_id}/ship", data="{}", content_type="application/json", headers=headers
        )

    first, second = run_in_threads(client, client)
    assert first.status_code == second.status_code == 200, (first.content, second.content)
    assert first.json() == second.json()
    assert [e.version for e in EventStore().load(uuid.UUID(order_id))] == [1, 2]


def test_a_retry_whose_first_send_commits_between_its_lookup_and_its_load_gets_the_first_answer(
    staff_headers, order_id, monkeypatch, run_in_threads
):
    """The retry finds no stored answer, then the first send commits, then the
    retry loads the order: its If-Match is stale now, but it is the same
    request, so it gets the first answer rather than a 412."""
    headers = {**staff_headers, "If-Match": '"1"', "Idempotency-Key": "ship-late"}

    def send():
        return Client().post(
            f"/api/orders/{order_id}/ship", data="{}", content_type="application/json", headers=headers
        )

    real_lookup = idempotency.lookup
    first: list = []

    def lookup(key):
        found = real_lookup(key)
        if not first:
            first.append(None)
            first[0] = run_in_threads(send)[0]  # the first send runs to its commit right here
        return found

    monkeypatch.setattr(idempotency, "lookup", lookup)
    retry = send()
    assert first[0].status_code == 200 and retry.status_code == 200, retry.content
    assert retry.json() == first[0].json()
    assert [e.version for e in EventStore().load(uuid.UUID(order_id))] == [1, 2]

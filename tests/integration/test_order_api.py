"""The REST command API: each endpoint's success path and every error status,
checking the response and that a failure leaves the event log untouched."""

import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from eventstore import EventStore
from orders.domain.product import product_id
from projections import selectors
from tests.support import LINE_A, LINE_B, ApiClient, assert_problem, event_count, login, password_of, settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def manager_api(manager):
    """The API as an order manager (token authentication)."""
    return ApiClient(manager)


def test_place_order_answers_201_with_location_etag_and_consistency_token(manager_api, manager):
    response = manager_api.post(
        "/api/orders/",
        {"customer_id": "cust_456", "items": [LINE_A, LINE_B]},
        headers={"X-Correlation-ID": "corr-123"},
    )
    assert response.status_code == 201
    body = response.json()
    order_id = uuid.UUID(body["order_id"])
    assert body["version"] == 1 and body["position"] >= 1
    assert response["Location"] == f"/api/orders/{order_id}"
    assert response["ETag"] == '"1"'
    assert response["X-Correlation-ID"] == "corr-123"

    [event] = EventStore().load(order_id)
    assert event.event_type == "OrderPlaced"
    assert event.position == body["position"]
    assert event.data == {
        "customer_id": "cust_456",
        "items": [  # priced from the catalogue, which sells them at the prices the client stated
            {**LINE_A, "catalogue_price_cents": 1999, "override_reason": None},
            {**LINE_B, "catalogue_price_cents": 500, "override_reason": None},
        ],
        "total_cents": 4498,
        "requires_confirmation": False,
    }
    meta = event.metadata
    assert meta["correlation_id"] == "corr-123"
    assert meta["user_id"] == str(manager.pk)
    assert meta["command"] == "PlaceOrder"
    assert uuid.UUID(meta["causation_id"])


def test_add_remove_ship_each_append_one_event_and_bump_the_version(manager_api):
    order = manager_api.place()
    oid = order["order_id"]
    added = manager_api.post(
        f"/api/orders/{oid}/items", {"sku": "WIDGET-A", "quantity": 3, "price_cents": 1999}
    )
    assert added.status_code == 200 and added.json()["version"] == 2 and added["ETag"] == '"2"'
    removed = manager_api.delete(f"/api/orders/{oid}/items/GADGET-B")
    assert removed.status_code == 200 and removed.json()["version"] == 3
    shipped = manager_api.post(f"/api/orders/{oid}/ship", {"carrier": "DHL", "tracking_number": "JD01"})
    assert shipped.status_code == 200 and shipped.json()["version"] == 4

    events = EventStore().load(uuid.UUID(oid))
    assert [e.event_type for e in events] == ["OrderPlaced", "ItemAdded", "ItemRemoved", "OrderShipped"]
    assert events[1].data == {
        "sku": "WIDGET-A",
        "quantity": 3,
        "price_cents": 1999,
        "order_total_cents": 10495,
        "catalogue_price_cents": 1999,
        "override_reason": None,
    }
    assert events[3].data == {"carrier": "DHL", "tracking_number": "JD01"}
    assert all(e.metadata["command"] for e in events)


def test_ship_needs_no_body_and_cancel_stores_its_reason(manager_api):
    first, second = manager_api.place(), manager_api.place()
    before = event_count()
    for raw in ("false", "0", '""', "[]", "null"):  # a body, but not an object
        assert_problem(manager_api.post(f"/api/orders/{first['order_id']}/ship", raw=raw), 400)
    assert event_count() == before
    assert manager_api.post(f"/api/orders/{first['order_id']}/ship").status_code == 200
    assert manager_api.post(f"/api/orders/{second['order_id']}/ship", raw="{}").status_code == 200
    cancelled = manager_api.post(f"/api/orders/{second['order_id']}/cancel", {"reason": "customer asked"})
    assert cancelled.status_code == 409  # shipped above
    third = manager_api.place()
    cancelled = manager_api.post(f"/api/orders/{third['order_id']}/cancel", {"reason": "customer asked"})
    assert cancelled.status_code == 200
    assert EventStore().load(uuid.UUID(third["order_id"]))[-1].data == {"reason": "customer asked"}


@pytest.mark.parametrize(
    ("setup", "path", "body", "problem_type"),
    [
        ("cancel", "ship", None, "order-already-cancelled"),
        ("ship", "cancel", {"reason": "too late"}, "order-already-shipped"),
        ("ship", "items", LINE_A, "order-already-shipped"),
        (None, "items", {"sku": "WIDGET-A", "quantity": 1, "price_cents": 1}, "price-mismatch"),
        (None, "items", {"sku": "WIDGET-A", "quantity": 10_000, "price_cents": 1999}, "quantity-limit"),
    ],
)
def test_commands_the_rules_forbid_get_409_and_append_nothing(manager_api, setup, path, body, problem_type):
    oid = manager_api.place()["order_id"]
    if setup == "cancel":
        manager_api.post(f"/api/orders/{oid}/cancel", {"reason": "x"})
    elif setup == "ship":
        manager_api.post(f"/api/orders/{oid}/ship")
    before = event_count()
    assert_problem(manager_api.post(f"/api/orders/{oid}/{path}", body), 409, problem_type)
    assert event_count() == before


def test_removing_the_last_line_is_409_and_a_missing_line_404(manager_api):
    oid = manager_api.place(items=[LINE_A])["order_id"]
    before = event_count()
    assert_problem(manager_api.delete(f"/api/orders/{oid}/items/WIDGET-A"), 409, "last-line")
    assert_problem(manager_api.delete(f"/api/orders/{oid}/items/NOPE"), 404, "line-not-found")
    assert_problem(manager_api.delete(f"/api/orders/{oid}/items/not%20a%20sku"), 404, "line-not-found")
    assert event_count() == before


def place_for(api: ApiClient, customer: str, headers=None):
    return api.post("/api/orders/", {"customer_id": customer, "items": [LINE_A]}, headers)


def placed_before_the_read_side_knew_better(monkeypatch, api: ApiClient, customer: str, headers=None):
    """Place an order for ``customer`` as if the read side knew no customer
    in another case yet (a race with that one's first order, or placed
    before place-order refused such ids)."""
    with monkeypatch.context() as unaware:
        unaware.setattr(selectors, "customer_spelled_otherwise", lambda customer_id: None)
        placed = place_for(api, customer, headers)
    assert placed.status_code == 201, placed.content
    return placed


@pytest.mark.django_db(transaction=True)
def test_placing_for_a_known_customer_s_id_in_another_case_is_409_naming_them(manager_api):
    manager_api.place("cust_ada")
    settle()  # the customer is known to the read side
    before = event_count()

    problem = assert_problem(place_for(manager_api, "CUST_ADA"), 409, "customer-spelled-otherwise")

    assert problem["known_customer_id"] == "cust_ada"
    assert "There is no customer CUST_ADA, but there is cust_ada" in problem["detail"]
    assert event_count() == before


@pytest.mark.django_db(transaction=True)
def test_a_client_whose_ids_differ_only_in_case_says_the_id_is_a_new_customer(manager_api):
    manager_api.place("cust_ada")
    settle()
    body = {"customer_id": "CUST_ADA", "items": [LINE_A]}
    before = event_count()
    assert_problem(manager_api.post("/api/orders/", {**body, "new_customer": "yes"}), 400, "validation-error")
    assert_problem(manager_api.post("/api/orders/", {**body, "new_customer": False}), 409)
    assert event_count() == before

    placed = manager_api.post("/api/orders/", {**body, "new_customer": True})

    assert placed.status_code == 201, placed.content
    settle()
    assert manager_api.get(f"/api/orders/{placed.json()['order_id']}").json()["customer_id"] == "CUST_ADA"


@pytest.mark.django_db(transaction=True)
def test_a_known_customer_s_exact_id_and_an_id_no_one_has_in_any_case_are_placed(manager_api, monkeypatch):
    manager_api.place("cust_ada")
    placed_before_the_read_side_knew_better(monkeypatch, manager_api, "CUST_ADA")
    settle()  # both known: each is its own customer

    for customer in ("cust_ada", "CUST_ADA", "cust_grace"):
        assert place_for(manager_api, customer).status_code == 201, customer


@pytest.mark.django_db(transaction=True)
def test_a_customer_forgotten_under_the_exact_id_is_no_typo(manager_api, staff):
    assert ApiClient(staff).post("/api/customers/CUST_ADA/forget").json()["recorded"] is True
    manager_api.place("cust_ada")
    settle()

    assert place_for(manager_api, "CUST_ADA").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_for_an_id_in_another_case_is_still_replayed_by_its_key(manager_api, monkeypatch):
    manager_api.place("cust_ada")
    settle()
    key = {"Idempotency-Key": "place-ada-upper"}
    first = placed_before_the_read_side_knew_better(monkeypatch, manager_api, "CUST_ADA", key)
    before = event_count()  # the read side knows cust_ada, not yet CUST_ADA

    again = place_for(manager_api, "CUST_ADA", key)

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and event_count() == before
    assert_problem(place_for(manager_api, "CUST_ADA"), 409, "customer-spelled-otherwise")  # a new request


def test_unknown_order_is_404_and_a_malformed_id_too(manager_api):
    before = event_count()
    missing = uuid.uuid4()
    body = assert_problem(manager_api.post(f"/api/orders/{missing}/ship"), 404, "order-not-found")
    assert body["order_id"] == str(missing)
    assert_problem(manager_api.post(f"/api/orders/{missing}/items", LINE_A), 404)
    assert_problem(manager_api.post("/api/orders/not-a-uuid/ship"), 404)
    assert_problem(manager_api.get("/api/orders/12345/events"), 404)
    assert event_count() == before


def test_anonymous_requests_get_401_and_users_without_the_permission_403(reader):
    before = event_count()
    anonymous = ApiClient().post("/api/orders/", {})
    assert_problem(anonymous, 401)
    assert anonymous["WWW-Authenticate"].startswith("Token")
    forbidden = ApiClient(reader).post("/api/orders/", {"customer_id": "c1", "items": [LINE_A]})
    assert_problem(forbidden, 403)
    bad_token = ApiClient().post("/api/orders/", raw="{}", headers={"Authorization": "Token nope"})
    assert_problem(bad_token, 401)
    assert event_count() == before


def test_staff_may_send_commands_with_a_session(staff):
    response = login(staff).post(
        "/api/orders/",
        data=json.dumps({"customer_id": "c1", "items": [LINE_A]}),
        content_type="application/json",
    )
    assert response.status_code == 201


def test_if_match_with_the_current_version_passes_and_a_stale_one_gets_412(manager_api):
    order = manager_api.place()
    oid = order["order_id"]
    ok = manager_api.post(f"/api/orders/{oid}/items", LINE_A, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    before = event_count()
    stale = assert_problem(
        manager_api.post(f"/api/orders/{oid}/ship", headers={"If-Match": '"1"'}), 412, "stale-version"
    )
    assert stale["current_version"] == 2
    assert stale["title"] == "The order has changed"
    assert stale["detail"].startswith(f"order {oid} is at version 2, not 1")
    unknown = manager_api.post(f"/api/orders/{uuid.uuid4()}/notes", {"text": "x"}, headers={"If-Match": "3"})
    assert_problem(unknown, 404, "order-not-found")  # not "at version 0"
    assert_problem(
        manager_api.post(f"/api/orders/{oid}/ship", headers={"If-Match": "soon"}), 400, "invalid-if-match"
    )
    assert event_count() == before
    assert manager_api.post(f"/api/orders/{oid}/ship", headers={"If-Match": 'W/"2"'}).status_code == 200


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        ("customer_id=c1", "application/x-www-form-urlencoded", 415),
        ("hello", "text/plain", 415),
        ('{"customer_id": "c1", "items": [', "application/json", 400),
        ('{"customer_id": "c1", "items": [], }', "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        ("null", "application/json", 400),
        ('"just a string"', "application/json", 400),
        ('{"customer_id": NaN}', "application/json", 400),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(manager_api, raw, content_type, status):
    before = event_count()
    assert_problem(manager_api.post("/api/orders/", raw=raw, content_type=content_type), status)
    assert event_count() == before


def test_an_oversized_body_gets_413(manager_api, settings):
    before = event_count()
    big = json.dumps({"customer_id": "c1", "items": [LINE_A], "pad": "x" * (settings.API_MAX_BODY_BYTES + 1)})
    assert_problem(manager_api.post("/api/orders/", raw=big), 413)
    assert event_count() == before


def test_a_body_sent_without_a_content_length_gets_411_and_runs_nothing(manager_api, manager):
    """Chunked transfer encoding: Django would read an empty body, and a
    command would run without the fields the client sent. Pages answer the
    same status, as text."""
    placed = manager_api.place()
    before = event_count()
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}
    body = json.dumps({"carrier": "DHL", "tracking_number": "JD999"})
    response = manager_api.client.post(
        f"/api/orders/{placed['order_id']}/ship",
        data=body,
        content_type="application/json",
        headers=manager_api.headers,
        **chunked,
    )
    problem = assert_problem(response, 411)
    assert "Content-Length" in problem["detail"]
    assert response["X-Correlation-ID"]  # answered, and logged, like any request
    # A read has no body to lose: it is answered as usual.
    read = manager_api.client.get(
        f"/api/orders/{placed['order_id']}/events", headers=manager_api.headers, **chunked
    )
    assert read.status_code == 200
    page = login(manager).post(
        f"/orders/{placed['order_id']}/ship",
        data="carrier=DHL",
        content_type="application/x-www-form-urlencoded",
        **chunked,
    )
    assert page.status_code == 411
    assert event_count() == before


def test_field_errors_name_each_field(manager_api):
    before = event_count()
    body = assert_problem(
        manager_api.post(
            "/api/orders/",
            {"customer_id": 42, "items": [{"sku": "A", "quantity": "2", "price_cents": -1}], "coupon": "X"},
        ),
        400,
        "validation-error",
    )
    assert set(body["errors"]) == {"coupon", "customer_id", "items[0].quantity", "items[0].price_cents"}
    assert event_count() == before


def test_codes_are_taken_as_sent_not_trimmed_as_the_schema_patterns_say(manager_api):
    before = event_count()
    body = assert_problem(
        manager_api.post(
            "/api/orders/", {"customer_id": " cust_456", "items": [{**LINE_A, "sku": "WIDGET-A\t"}]}
        ),
        400,
        "validation-error",
    )
    assert set(body["errors"]) == {"customer_id", "items[0].sku"}
    assert event_count() == before
    for padded in ("cust_456 ", "cust_456\n"):
        assert_problem(manager_api.get("/api/orders/", customer_id=padded), 400, "validation-error")
    newline = manager_api.post(
        "/api/orders/", {"customer_id": "cust_456", "items": [{**LINE_A, "sku": "WIDGET-A\n"}]}
    )
    assert set(assert_problem(newline, 400, "validation-error")["errors"]) == {"items[0].sku"}
    assert manager_api.get("/api/orders/", customer_id="cust_456").status_code == 200


def test_every_text_that_breaks_the_text_rules_is_a_400_under_its_own_path_at_once(staff):
    api = ApiClient(staff)
    oid = api.place()["order_id"]
    before = event_count()
    hidden = "Ada\u200bX"  # a zero-width space between ASCII letters
    body = {
        "customer_id": "cust_rules",
        "items": [{**LINE_A, "price_override_reason": hidden}, {**LINE_B, "price_override_reason": hidden}],
        "contact": {"name": "Ada\u200fLovelace", "email": "ada@example.com\u200f"},
        "shipping_address": {"line1": "1 Row", "city": hidden, "country": "GB"},
    }
    problem = assert_problem(api.post("/api/orders/", body), 400, "validation-error")
    assert set(problem["errors"]) == {
        "items[0].price_override_reason",
        "items[1].price_override_reason",
        "contact.name",
        "contact.email",
        "shipping_address.city",
    }
    shipped = api.post(f"/api/orders/{oid}/ship", {"carrier": hidden, "tracking_number": hidden})
    assert set(assert_problem(shipped, 400)["errors"]) == {"carrier", "tracking_number"}
    product = api.post(
        "/api/products/", {"sku": "LAMP-9", "name": hidden, "description": hidden, "price_cents": 1}
    )
    assert set(assert_problem(product, 400)["errors"]) == {"name", "description"}
    assert api.post(f"/api/orders/{oid}/cancel", {"reason": "Changed my mind"}).status_code == 200
    before = event_count()
    # Read before the order's state: a 400 for the text, not a 409 for the cancelled order.
    assert_problem(api.post(f"/api/orders/{oid}/cancel", {"reason": "\u202eAda"}), 400, "validation-error")
    assert event_count() == before


@pytest.mark.django_db(transaction=True)
def test_a_cursor_is_taken_as_sent(manager_api):
    manager_api.place("cust_1")
    manager_api.place("cust_2")
    settle()
    cursor = parse_qs(urlsplit(manager_api.orders(limit=1)["next"]).query)["cursor"][0]
    assert manager_api.get("/api/orders/", limit=1, cursor=cursor).status_code == 200
    assert_problem(manager_api.get("/api/orders/", limit=1, cursor=cursor + "\n"), 400)


def test_idempotent_retry_returns_the_first_response_and_appends_nothing(manager_api):
    key = {"Idempotency-Key": "place-7f3a"}
    payload = {"customer_id": "cust_9", "items": [LINE_A]}
    first = manager_api.post("/api/orders/", payload, headers=key)
    before = event_count()
    again = manager_api.post("/api/orders/", payload, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"] and again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true"
    assert event_count() == before

    other = assert_problem(
        manager_api.post("/api/orders/", {**payload, "customer_id": "cust_10"}, headers=key), 422
    )
    assert other["type"] == "/problems/idempotency-key-reused"
    assert_problem(manager_api.post("/api/orders/", payload, headers={"Idempotency-Key": "x" * 300}), 400)
    assert event_count() == before


def test_a_retry_naming_the_order_in_capitals_is_the_same_request(manager_api):
    order = manager_api.place()["order_id"]
    key = {"Idempotency-Key": "note-5c1d"}
    first = manager_api.post(f"/api/orders/{order}/notes", {"text": "Gift wrap"}, headers=key)
    before = event_count()

    again = manager_api.post(f"/api/orders/{order.upper()}/notes", {"text": "Gift wrap"}, headers=key)

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert event_count() == before
    other = manager_api.post(
        f"/api/orders/{manager_api.place()['order_id']}/notes", {"text": "Gift wrap"}, headers=key
    )
    assert assert_problem(other, 422)["type"] == "/problems/idempotency-key-reused"  # another order


def test_a_key_recorded_before_keys_bound_the_target_is_replayed(manager_api, monkeypatch):
    """Until 2026-12-07 a key's hash bound the path as spelled: a retry of a
    request first sent then is still the same request."""
    from orders import idempotency

    order = manager_api.place()["order_id"]
    key = {"Idempotency-Key": "note-before-deploy"}
    with monkeypatch.context() as before_the_deploy:
        before_the_deploy.setattr(idempotency, "target", lambda request: request.path)
        first = manager_api.post(f"/api/orders/{order}/notes", {"text": "Gift wrap"}, headers=key)
    count = event_count()

    retry = manager_api.post(f"/api/orders/{order}/notes", {"text": "Gift wrap"}, headers=key)

    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json() and event_count() == count


def test_idempotency_keys_are_per_user(manager_api, other):
    payload = {"customer_id": "cust_9", "items": [LINE_A]}
    manager_api.post("/api/orders/", payload, headers={"Idempotency-Key": "shared"})
    response = ApiClient(other).post("/api/orders/", payload, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_expired_idempotency_keys_are_forgotten_and_purged(manager_api, settings):
    from django.core.management import call_command

    from orders.models import IdempotencyRecord

    payload = {"customer_id": "cust_9", "items": [LINE_A]}
    first = manager_api.post("/api/orders/", payload, headers={"Idempotency-Key": "k1"})
    IdempotencyRecord.objects.update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    second = manager_api.post("/api/orders/", payload, headers={"Idempotency-Key": "k1"})
    assert second.status_code == 201 and second.json()["order_id"] != first.json()["order_id"]
    IdempotencyRecord.objects.update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    call_command("purge_idempotency_keys")
    assert IdempotencyRecord.objects.count() == 0


def test_history_lists_events_upcast_with_metadata_and_pages(manager_api):
    oid = manager_api.place()["order_id"]
    for _ in range(3):
        manager_api.post(f"/api/orders/{oid}/items", LINE_A)
    page = manager_api.get(f"/api/orders/{oid}/events", limit=2).json()
    assert [e["version"] for e in page["events"]] == [1, 2]
    assert page["next_after_version"] == 2
    assert page["events"][0]["event_type"] == "OrderPlaced"
    assert page["events"][0]["metadata"]["command"] == "PlaceOrder"
    rest = manager_api.get(f"/api/orders/{oid}/events", after_version=2, limit=10).json()
    assert [e["version"] for e in rest["events"]] == [3, 4] and rest["next_after_version"] is None
    assert_problem(manager_api.get(f"/api/orders/{oid}/events", limit=0), 400)
    assert_problem(manager_api.get(f"/api/orders/{oid}/events", limit="ten"), 400)
    assert_problem(manager_api.get(f"/api/orders/{uuid.uuid4()}/events"), 404)
    past_the_end = manager_api.get(f"/api/orders/{oid}/events", after_version=9).json()
    assert past_the_end["events"] == [] and past_the_end["next_after_version"] is None
    # A stream that is not an order is not one past its end either.
    product = str(product_id(LINE_A["sku"]))
    for after in (0, 1, 9):
        assert_problem(manager_api.get(f"/api/orders/{product}/events", after_version=after), 404)


def test_history_and_state_take_a_consistency_token_and_answer_one(manager_api):
    placed = manager_api.post("/api/orders/", {"customer_id": "cust_t", "items": [LINE_A]}).json()
    token, oid = placed["consistency_token"], placed["order_id"]
    for path in (f"/api/orders/{oid}/events", f"/api/orders/{oid}/state"):
        read = manager_api.get(path, headers={"X-Min-Position": token})
        assert read.status_code == 200
        assert read["X-Consistency-Token"] and read["X-Projection-Position"].isdigit()
        refused = manager_api.get(path, headers={"X-Min-Position": "not-a-token"})
        assert_problem(refused, 400)
        assert refused.json()["type"].endswith("/invalid-min-position")
    missing = manager_api.get(f"/api/orders/{uuid.uuid4()}/events")
    assert_problem(missing, 404)
    assert "X-Consistency-Token" in missing


def test_state_at_a_point_in_time_is_the_replay_up_to_then(manager_api):
    oid = manager_api.place(items=[LINE_A])["order_id"]
    between = datetime.now(UTC)
    manager_api.post(f"/api/orders/{oid}/items", LINE_B)
    then = manager_api.get(f"/api/orders/{oid}/state", at=between.isoformat()).json()
    now = manager_api.get(f"/api/orders/{oid}/state").json()
    assert then["version"] == 1 and then["total_cents"] == 3998 and len(then["items"]) == 1
    assert now["version"] == 2 and now["total_cents"] == 4498 and now["status"] == "placed"
    assert_problem(manager_api.get(f"/api/orders/{oid}/state", at="2001-01-01T00:00:00Z"), 404)
    assert_problem(manager_api.get(f"/api/orders/{oid}/state", at="yesterday"), 400)
    naive = manager_api.get(f"/api/orders/{oid}/state", at=between.replace(tzinfo=None).isoformat())
    assert naive.json()["version"] == 1  # a time without offset is UTC


def test_token_endpoint_exchanges_credentials_for_a_working_token(manager):
    anonymous = ApiClient()
    bad = anonymous.post("/api/auth/token", {"username": "manager", "password": "wrong"})
    assert_problem(bad, 400)
    good = anonymous.post("/api/auth/token", {"username": "manager", "password": password_of("manager")})
    token = good.json()["token"]
    placed = anonymous.post(
        "/api/orders/",
        {"customer_id": "c1", "items": [LINE_A]},
        headers={"Authorization": f"Token {token}"},
    )
    assert placed.status_code == 201


def test_correlation_id_is_echoed_or_made_and_a_malformed_one_refused(manager_api):
    made = manager_api.get("/api/catalog/events")
    assert uuid.UUID(made["X-Correlation-ID"])
    before = event_count()
    assert_problem(
        manager_api.post("/api/orders/", {}, headers={"X-Correlation-ID": "bad id with spaces"}), 400
    )
    assert event_count() == before


def test_catalog_serves_every_order_event_with_its_schema(manager_api):
    catalog = {t["event_type"]: t for t in manager_api.get("/api/catalog/events").json()["event_types"]}
    for name in ("OrderPlaced", "ItemAdded", "ItemRemoved", "OrderShipped", "OrderCancelled"):
        assert catalog[name]["aggregate_type"] == "Order"
        assert catalog[name]["versions"][0]["schema"]["type"] == "object"


def test_openapi_schema_documents_headers_and_errors(manager_api, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    ship = schema["paths"]["/api/orders/{order_id}/ship"]["post"]
    headers = {p["name"] for p in ship["parameters"] if p["in"] == "header"}
    assert {"If-Match", "Idempotency-Key", "X-Correlation-ID"} <= headers
    assert {"200", "400", "401", "403", "404", "409", "412", "413", "415", "422"} <= set(ship["responses"])
    assert "application/problem+json" in ship["responses"]["409"]["content"]
    conflicts = schema["paths"]["/api/orders/"]["post"]["responses"]["409"]
    assert "application/problem+json" in conflicts["content"]
    assert "/problems/customer-spelled-otherwise" in conflicts["description"]
    assert "known_customer_id" in conflicts["description"]
    for path in ("/api/orders/{order_id}/events", "/api/orders/{order_id}/state"):
        read = schema["paths"][path]["get"]
        assert "X-Min-Position" in {p["name"] for p in read["parameters"] if p["in"] == "header"}
        assert "X-Consistency-Token" in read["responses"]["200"]["headers"]
    assert client.get("/api/docs/").status_code == 200
    # Bodies and headers as strictly as the API reads them.
    bodies = schema["components"]["schemas"]
    place = bodies["PlaceOrderInputRequest"]
    assert place["additionalProperties"] is False and bodies["LineRequest"]["additionalProperties"] is False
    assert (place["properties"]["items"]["minItems"], place["properties"]["items"]["maxItems"]) == (1, 100)
    assert bodies["ShippingAddressRequest"]["properties"]["country"]["pattern"] == "^[A-Z]{2}$"
    header = {p["name"]: p["schema"] for p in ship["parameters"] if p["in"] == "header"}
    assert header["Idempotency-Key"]["maxLength"] == 255 and "pattern" in header["X-Correlation-ID"]
    assert re.fullmatch(header["If-Match"]["pattern"], '"3"') and not re.fullmatch(
        header["If-Match"]["pattern"], "soon"
    )


def test_the_schema_and_its_docs_are_public_and_answer_errors_as_json_problems(client):
    """A wrong token is not looked at (they are public), and a refused Accept
    is a problem in JSON, not in the YAML or HTML the views render."""
    bad_token = {"Authorization": "Token not-a-token"}
    assert client.get("/api/schema/", {"format": "json"}, headers=bad_token).status_code == 200
    docs = client.get("/api/docs/", headers=bad_token)
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
    for path, accept in (("/api/schema/", "text/html"), ("/api/docs/", "application/json")):
        problem = assert_problem(client.get(path, headers={"Accept": accept}), 406)
        assert problem["title"] == "Not acceptable"


def test_a_media_type_with_quality_zero_is_not_acceptable(manager_api):
    for refused in ("application/json;q=0", "application/json; q=0.000, text/html"):
        assert_problem(manager_api.get("/api/orders/", headers={"Accept": refused}), 406)
    for accepted in ("application/json;q=0.1", "*/*;q=0, application/json", "application/*"):
        assert manager_api.get("/api/orders/", headers={"Accept": accepted}).status_code == 200, accepted


def test_an_impossible_date_in_state_at_is_a_400(manager_api):
    oid = manager_api.place()["order_id"]
    for at in ("2026-13-01T00:00:00", "2026-02-30T00:00:00", "2026-01-01T00:00:00+25:00"):
        assert_problem(manager_api.get(f"/api/orders/{oid}/state", at=at), 400)


def test_sign_in_attempts_are_limited(client, manager, settings):
    settings.LOGIN_FAILURES_ALLOWED = 3
    from django.core.cache import cache

    cache.clear()
    for _ in range(3):
        assert (
            client.post("/accounts/login/", {"username": "manager", "password": "wrong"}).status_code == 200
        )
    blocked = client.post("/accounts/login/", {"username": "manager", "password": password_of("manager")})
    assert blocked.status_code == 429 and b"Too many failed attempts" in blocked.content
    cache.clear()
    assert (
        client.post(
            "/accounts/login/", {"username": "manager", "password": password_of("manager")}
        ).status_code
        == 302
    )


def test_projections_gathering_several_streams_refuse_inline_mode(settings):
    from django.core.exceptions import ImproperlyConfigured

    from projections.base import registry

    settings.PROJECTION_CONSISTENCY = {"customer_summary": "inline", "order_list": "inline"}
    assert registry.get("order_list").consistency == "inline"
    with pytest.raises(ImproperlyConfigured, match="customer_summary cannot be inline"):
        _ = registry.get("customer_summary").consistency

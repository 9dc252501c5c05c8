"""The read API over HTTP: GET /api/orders/ (filters, orderings, keyset
pagination, bad input), GET /api/orders/{id}, read-your-writes with
X-Min-Position, and the staff-only GET /api/projections/.

Projections read only committed events, so every test commits for real."""

import base64
import json
import time
import uuid
from datetime import datetime, timedelta

import orjson
import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from projections import runner
from projections.status import status as projection_status

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LINE_A = {"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}
LINE_B = {"sku": "GADGET-B", "quantity": 1, "price_cents": 500}
ROW_FIELDS = {
    "order_id",
    "customer_id",
    "status",
    "line_count",
    "item_count",
    "total_cents",
    "placed_at",
    "shipped_at",
    "cancelled_at",
    "version",
}


@pytest.fixture(autouse=True)
def inprocess_projections(settings):
    """Each command is projected right after it commits."""
    settings.PROJECTIONS_MODE = "inprocess"


class Api:
    def __init__(self, user: User | None):
        self.client = Client(raise_request_exception=False)  # a 500 is an answer to assert on
        self.headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"} if user else {}

    def get(self, path, headers=None, settle=True, **params):
        if settle:
            catch_up()
        return self.client.get(path, params, headers={**self.headers, **(headers or {})})

    def post(self, path, body=None, headers=None):
        return self.client.post(
            path,
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )

    def place(self, customer, items=(LINE_A, LINE_B)):
        response = self.post("/api/orders/", {"customer_id": customer, "items": list(items)})
        assert response.status_code == 201, response.content
        return response.json()

    def orders(self, **params):
        response = self.get("/api/orders/", **params)
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def api():
    """A staff user: may send commands and read everything."""
    return Api(User.objects.create_user("boss", password="pw-boss-123", is_staff=True))


@pytest.fixture
def reader():
    """A signed-in user who is neither staff nor an order manager."""
    return Api(User.objects.create_user("reader", password="pw-reader-123"))


def assert_problem(response, status, type_=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if type_:
        assert body["type"] == f"/problems/{type_}"
    return body


def catch_up(timeout: float = 10.0) -> None:
    """Run the projections until none lags. In-process runs after each commit
    already do this, unless another transaction on the PostgreSQL server held
    the gap-safe read back at that moment (see
    test_inprocess_projection_survives_another_transaction_open_at_commit)."""
    deadline = time.monotonic() + timeout
    while any(p["lag_events"] for p in projection_status()):
        runner.run_all()
        assert time.monotonic() < deadline, "projections did not catch up"
        time.sleep(0.01)


def head_position() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(position), 0) FROM events")
        return cursor.fetchone()[0]


def ids(rows) -> list[str]:
    return [row["order_id"] for row in rows]


def line(price, sku="SKU-1", quantity=1):
    return {"sku": sku, "quantity": quantity, "price_cents": price}


def place_many(api, customer, prices) -> list[str]:
    """One single-line order per price, placed one after another."""
    return [api.place(customer, [line(p)])["order_id"] for p in prices]


def cursor_of(payload) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


ORDERINGS = {
    "-placed_at": ("placed_at", True),
    "placed_at": ("placed_at", False),
    "-total": ("total_cents", True),
    "total": ("total_cents", False),
}


def expected_order(rows, ordering):
    field, desc = ORDERINGS[ordering]

    def key(row):
        value = datetime.fromisoformat(row["placed_at"]) if field == "placed_at" else row[field]
        return (value, uuid.UUID(row["order_id"]))

    return ids(sorted(rows, key=key, reverse=desc))


# -- GET /api/orders/ --------------------------------------------------------------------


def test_list_is_newest_first_by_default_with_every_row_field(api):
    first = api.place("cust_list_a", [LINE_A])
    second = api.place("cust_list_a", [LINE_A, LINE_B])
    third = api.place("cust_list_a", [line(1, quantity=3)])
    api.place("cust_list_other")

    response = api.get("/api/orders/", customer_id="cust_list_a")
    assert response.status_code == 200
    body = response.json()
    assert ids(body["results"]) == [third["order_id"], second["order_id"], first["order_id"]]
    assert body["next"] is None and body["previous"] is None
    assert int(response["X-Projection-Position"]) == head_position()

    row = body["results"][1]
    assert set(row) == ROW_FIELDS
    assert row["customer_id"] == "cust_list_a"
    assert row["status"] == "placed"
    assert row["line_count"] == 2 and row["item_count"] == 3
    assert row["total_cents"] == 2 * 1999 + 500
    assert row["version"] == 1
    assert row["shipped_at"] is None and row["cancelled_at"] is None
    placed = [datetime.fromisoformat(r["placed_at"]) for r in body["results"]]
    assert placed[0] > placed[1] > placed[2]
    assert all(p.utcoffset() is not None for p in placed)


def test_list_filters_by_status_customer_and_total(api):
    c = "cust_filter"
    open_, shipped, cancelled, big = place_many(api, c, [100, 200, 300, 5000])
    assert api.post(f"/api/orders/{shipped}/ship", {"carrier": "DHL"}).status_code == 200
    assert api.post(f"/api/orders/{cancelled}/cancel", {"reason": "changed mind"}).status_code == 200
    api.place("cust_filter_other", [line(200)])

    assert set(ids(api.orders(customer_id=c)["results"])) == {open_, shipped, cancelled, big}
    assert set(ids(api.orders(customer_id=c, status="placed")["results"])) == {open_, big}
    shipped_rows = api.orders(customer_id=c, status="shipped")["results"]
    assert ids(shipped_rows) == [shipped]
    assert shipped_rows[0]["shipped_at"] is not None and shipped_rows[0]["version"] == 2
    cancelled_rows = api.orders(customer_id=c, status="cancelled")["results"]
    assert ids(cancelled_rows) == [cancelled] and cancelled_rows[0]["cancelled_at"] is not None

    # Both total bounds are inclusive.
    assert set(ids(api.orders(customer_id=c, total_min=200, total_max=300)["results"])) == {
        shipped,
        cancelled,
    }
    assert ids(api.orders(customer_id=c, total_min=5000)["results"]) == [big]
    assert ids(api.orders(customer_id=c, total_max=100)["results"]) == [open_]
    assert api.orders(customer_id=c, total_min=301, total_max=4999)["results"] == []
    assert api.orders(customer_id=c, total_min=400, total_max=300)["results"] == []
    assert ids(api.orders(customer_id=c, status="placed", total_max=4999)["results"]) == [open_]
    # Without customer_id, filters span every customer.
    assert {r["customer_id"] for r in api.orders(total_min=200, total_max=200)["results"]} == {
        c,
        "cust_filter_other",
    }
    assert api.orders(customer_id="cust_nobody")["results"] == []


def test_list_filters_by_placed_time_from_inclusive_to_exclusive(api):
    c = "cust_time"
    oids = place_many(api, c, [100, 200, 300, 400])
    rows = api.orders(customer_id=c, ordering="placed_at")["results"]
    assert ids(rows) == oids
    at = [r["placed_at"] for r in rows]

    assert ids(api.orders(customer_id=c, ordering="placed_at", placed_from=at[1])["results"]) == oids[1:]
    assert ids(api.orders(customer_id=c, ordering="placed_at", placed_to=at[2])["results"]) == oids[:2]
    window = api.orders(customer_id=c, ordering="placed_at", placed_from=at[1], placed_to=at[3])
    assert ids(window["results"]) == oids[1:3]
    assert api.orders(customer_id=c, placed_from=at[2], placed_to=at[2])["results"] == []

    # Other offsets name the same instant.
    shifted = datetime.fromisoformat(at[1]).astimezone(
        datetime.fromisoformat("2000-01-01T00:00+05:30").tzinfo
    )
    assert (
        ids(api.orders(customer_id=c, ordering="placed_at", placed_from=shifted.isoformat())["results"])
        == (oids[1:])
    )
    later = (datetime.fromisoformat(at[3]) + timedelta(days=1)).isoformat()
    assert api.orders(customer_id=c, placed_from=later)["results"] == []


def test_each_ordering_sorts_by_its_key_then_order_id(api):
    c = "cust_ordering"
    oids = place_many(api, c, [700, 100, 700, 900, 100, 700])
    by = {o: api.orders(customer_id=c, ordering=o)["results"] for o in ORDERINGS}
    for ordering, rows in by.items():
        assert sorted(ids(rows)) == sorted(oids), ordering
        assert ids(rows) == expected_order(rows, ordering), ordering
    assert ids(by["-placed_at"]) == oids[::-1]
    assert ids(by["placed_at"]) == oids
    assert [r["total_cents"] for r in by["total"]] == [100, 100, 700, 700, 700, 900]
    assert ids(by["-total"]) == ids(by["total"])[::-1]


def walk(api, **params):
    """Every page from the first via `next`; checks each answer on the way."""
    pages, response = [], api.get("/api/orders/", **params)
    while True:
        assert response.status_code == 200, response.content
        assert int(response["X-Projection-Position"]) == head_position()
        pages.append(response.json())
        if pages[-1]["next"] is None:
            return pages
        response = api.get(pages[-1]["next"])


def test_cursor_pages_walk_forward_and_back_over_every_order_once(api):
    c = "cust_pages"
    # Equal totals straddle page boundaries, so the order_id tie-break matters.
    oids = place_many(api, c, [500, 500, 500, 200, 500, 900, 200])
    for ordering in ORDERINGS:
        everything = api.orders(customer_id=c, ordering=ordering, limit=200)["results"]
        expected = ids(everything)
        assert expected == expected_order(everything, ordering) and sorted(expected) == sorted(oids)

        pages = walk(api, customer_id=c, ordering=ordering, limit=3)
        assert [len(p["results"]) for p in pages] == [3, 3, 1], ordering
        assert [i for p in pages for i in ids(p["results"])] == expected, ordering
        assert pages[0]["previous"] is None
        assert all(p["previous"] is not None for p in pages[1:])
        assert all(f"customer_id={c}" in p["next"] and "limit=3" in p["next"] for p in pages[:-1])

        # Back from the last page, one page at a time: the same pages, reversed.
        back = [pages[-1]]
        while back[-1]["previous"] is not None:
            back.append(api.get(back[-1]["previous"]).json())
        assert [ids(p["results"]) for p in back] == [ids(p["results"]) for p in reversed(pages)], ordering
        assert all(p["next"] is not None for p in back[1:])
        # And forward again from a page reached going back.
        assert ids(api.get(back[-1]["next"]).json()["results"]) == ids(pages[1]["results"])


def test_a_new_order_does_not_shift_the_pages_being_walked(api):
    c = "cust_stable"
    place_many(api, c, [100, 200, 300, 400, 500])
    first = api.orders(customer_id=c, limit=2)
    newest = api.place(c, [line(600)])["order_id"]
    seen = ids(first["results"])
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += ids(page["results"])
    assert newest not in seen
    assert len(seen) == len(set(seen)) == 5
    assert ids(api.orders(customer_id=c, limit=1)["results"]) == [newest]


def test_limit_bounds(api):
    c = "cust_limit"
    oids = place_many(api, c, [100, 200, 300])
    one = api.orders(customer_id=c, limit=1)
    assert ids(one["results"]) == [oids[-1]] and one["next"] is not None
    assert len(api.orders(customer_id=c, limit=200)["results"]) == 3
    assert len(api.orders(customer_id=c)["results"]) == 3  # default 50
    for bad in ("0", "201", "1000", "-1", "abc", "1.5"):
        body = assert_problem(api.get("/api/orders/", customer_id=c, limit=bad), 400, "validation-error")
        assert "limit" in body["errors"], bad


@pytest.mark.django_db  # validation only: no commit needed
@pytest.mark.parametrize(
    "params, field",
    [
        ({"colour": "red"}, "colour"),
        ({"page": "2"}, "page"),
        ({"status": "pending"}, "status"),
        ({"status": "PLACED"}, "status"),
        ({"ordering": "customer_id"}, "ordering"),
        ({"ordering": "total_cents"}, "ordering"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"placed_from": "yesterday"}, "placed_from"),
        ({"placed_to": "2026-13-01T00:00:00Z"}, "placed_to"),
        ({"placed_from": "2026-02-30"}, "placed_from"),
        ({"placed_to": "0001-01-01T00:00:00+05:00"}, "placed_to"),
        ({"total_min": "-1"}, "total_min"),
        ({"total_max": "ten"}, "total_max"),
        ({"total_min": str(2**64)}, "total_min"),
        ({"customer_id": "bad customer"}, "customer_id"),
        ({"customer_id": "x" * 65}, "customer_id"),
        ({"cursor": "x" * 501}, "cursor"),
    ],
)
def test_bad_query_parameters_get_400_naming_the_parameter(api, params, field):
    body = assert_problem(api.get("/api/orders/", **params), 400, "validation-error")
    assert field in body["errors"]


@pytest.mark.django_db  # validation only: no commit needed
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "é",
        base64.urlsafe_b64encode(b"not json").decode(),
        cursor_of({"a": 1}),
        cursor_of([1, 2]),
        cursor_of(["2026-01-01T00:00:00+00:00", "not-a-uuid", "n"]),
        cursor_of(["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), "x"]),
        cursor_of(["2026-01-01T00:00:00", str(uuid.uuid4()), "n"]),  # naive time
        cursor_of(["yesterday", str(uuid.uuid4()), "n"]),
        cursor_of([1234, str(uuid.uuid4()), "p"]),
    ],
)
def test_a_cursor_this_list_did_not_hand_out_gets_400(api, cursor):
    assert_problem(api.get("/api/orders/", cursor=cursor), 400, "invalid-cursor")


def test_a_cursor_of_one_ordering_is_refused_by_another(api):
    place_many(api, "cust_cross", [100, 200])
    by_time = api.orders(customer_id="cust_cross", limit=1)
    cursor = by_time["next"].split("cursor=")[1]
    assert_problem(api.get("/api/orders/", ordering="total", cursor=cursor), 400, "invalid-cursor")
    assert_problem(
        api.get("/api/orders/", cursor=cursor_of([True, str(uuid.uuid4()), "n"]), ordering="-total"),
        400,
        "invalid-cursor",
    )
    assert_problem(
        api.get("/api/orders/", cursor=cursor_of([1.5, str(uuid.uuid4()), "n"]), ordering="total"),
        400,
        "invalid-cursor",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("order_id", [123, ["x"], {"a": 1}])
def test_a_cursor_whose_order_id_is_not_a_string_gets_400(api, order_id):
    response = api.get("/api/orders/", cursor=cursor_of(["2026-01-01T00:00:00+00:00", order_id, "n"]))
    assert_problem(response, 400, "invalid-cursor")


# -- GET /api/orders/{id} ----------------------------------------------------------------


def test_detail_has_the_order_its_lines_and_an_etag(api):
    placed = api.place("cust_detail", [LINE_A, LINE_B])
    oid = placed["order_id"]
    assert api.post(f"/api/orders/{oid}/items", {**LINE_A, "quantity": 3}).status_code == 200
    assert api.post(f"/api/orders/{oid}/items", line(250, sku="NEW-C", quantity=4)).status_code == 200
    shipped = api.post(f"/api/orders/{oid}/ship", {"carrier": "DHL", "tracking_number": "JD01"}).json()

    response = api.get(f"/api/orders/{oid}")
    assert response.status_code == 200
    assert response["ETag"] == '"4"'
    assert int(response["X-Projection-Position"]) == head_position() == shipped["position"]
    body = response.json()
    assert set(body) >= ROW_FIELDS | {
        "items",
        "cancel_reason",
        "carrier",
        "tracking_number",
        "last_position",
        "updated_at",
    }
    assert body["order_id"] == oid and body["customer_id"] == "cust_detail"
    assert body["status"] == "shipped" and body["version"] == 4
    assert body["items"] == [
        {"sku": "WIDGET-A", "quantity": 5, "price_cents": 1999, "line_total_cents": 5 * 1999},
        {"sku": "GADGET-B", "quantity": 1, "price_cents": 500, "line_total_cents": 500},
        {"sku": "NEW-C", "quantity": 4, "price_cents": 250, "line_total_cents": 1000},
    ]
    assert body["total_cents"] == sum(i["line_total_cents"] for i in body["items"]) == 11495
    assert body["line_count"] == 3 and body["item_count"] == 10
    assert body["carrier"] == "DHL" and body["tracking_number"] == "JD01"
    assert body["cancel_reason"] is None and body["cancelled_at"] is None
    assert body["last_position"] == shipped["position"]
    placed_at, shipped_at = (datetime.fromisoformat(body[k]) for k in ("placed_at", "shipped_at"))
    assert placed_at < shipped_at <= datetime.fromisoformat(body["updated_at"])

    # The list row agrees with the detail.
    [row] = api.orders(customer_id="cust_detail")["results"]
    assert row == {k: body[k] for k in ROW_FIELDS}


def test_detail_of_a_cancelled_order_after_removing_a_line(api):
    oid = api.place("cust_cancelled", [LINE_A, LINE_B])["order_id"]
    assert api.client.delete(f"/api/orders/{oid}/items/WIDGET-A", headers=api.headers).status_code == 200
    assert api.post(f"/api/orders/{oid}/cancel", {"reason": "too slow"}).status_code == 200
    response = api.get(f"/api/orders/{oid}")
    assert response["ETag"] == '"3"'
    body = response.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "too slow"
    assert body["cancelled_at"] is not None and body["shipped_at"] is None
    assert body["carrier"] is None and body["tracking_number"] is None
    assert body["items"] == [{"sku": "GADGET-B", "quantity": 1, "price_cents": 500, "line_total_cents": 500}]
    assert body["total_cents"] == 500 and body["line_count"] == 1


@pytest.mark.django_db
def test_unknown_order_is_a_404_problem_and_a_malformed_id_too(api):
    missing = uuid.uuid4()
    body = assert_problem(api.get(f"/api/orders/{missing}"), 404, "order-not-found")
    assert str(missing) in body["detail"]
    for bad in ("not-a-uuid", "12345", f"{missing}x"):
        assert_problem(api.get(f"/api/orders/{bad}"), 404)


def test_reads_need_a_user_and_any_signed_in_user_may_read_an_order(api, reader):
    oid = api.place("cust_auth")["order_id"]
    anonymous = Api(None)
    for path in ("/api/orders/", f"/api/orders/{oid}"):
        response = anonymous.get(path)
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Token")
    response = reader.get(f"/api/orders/{oid}")
    assert response.status_code == 200 and response.json()["order_id"] == oid
    assert "X-Projection-Position" in response


def test_any_signed_in_user_may_list_orders(api, reader):
    oid = api.place("cust_reader")["order_id"]
    response = reader.get("/api/orders/", customer_id="cust_reader")
    assert response.status_code == 200, response.content
    assert ids(response.json()["results"]) == [oid]


# -- read-your-writes ----------------------------------------------------------------------


def test_x_min_position_makes_the_read_wait_for_the_command(api, settings, run_in_threads):
    settings.PROJECTIONS_MODE = "off"  # nothing projects until the thread below runs
    placed = api.place("cust_ryw")
    oid = placed["order_id"]
    stale = api.get(f"/api/orders/{oid}", settle=False)
    assert_problem(stale, 404, "order-not-found")  # not projected yet

    def project_later():
        time.sleep(0.3)
        return runner.run_all()

    started = time.monotonic()
    reads: dict = {}

    def read():
        reads["detail"] = api.get(
            f"/api/orders/{oid}", headers={"X-Min-Position": str(placed["position"])}, settle=False
        )
        return time.monotonic() - started

    waited, _ = run_in_threads(read, project_later)
    response = reads["detail"]
    assert response.status_code == 200, response.content
    assert waited >= 0.3
    assert response.json()["status"] == "placed"
    assert int(response["X-Projection-Position"]) >= placed["position"]


def test_reads_with_a_commands_position_show_that_command(api):
    oid = api.place("cust_ryw2", [LINE_A])["order_id"]
    added = api.post(f"/api/orders/{oid}/items", LINE_B).json()
    detail = api.get(f"/api/orders/{oid}", headers={"X-Min-Position": str(added["position"])})
    assert detail.status_code == 200 and detail["ETag"] == '"2"'
    assert [i["sku"] for i in detail.json()["items"]] == ["WIDGET-A", "GADGET-B"]
    shipped = api.post(f"/api/orders/{oid}/ship").json()
    listed = api.get(
        "/api/orders/", customer_id="cust_ryw2", headers={"X-Min-Position": f" {shipped['position']} "}
    )
    assert listed.status_code == 200
    assert int(listed["X-Projection-Position"]) >= shipped["position"]
    assert [r["status"] for r in listed.json()["results"]] == ["shipped"]


def test_x_min_position_not_reached_in_time_is_503_with_retry_after(api, settings):
    settings.PROJECTIONS_MODE = "off"
    settings.READ_YOUR_WRITES_TIMEOUT = 0.1
    placed = api.place("cust_lag")
    response = api.get(
        f"/api/orders/{placed['order_id']}", headers={"X-Min-Position": str(placed["position"])}, settle=False
    )
    assert_problem(response, 503, "projection-lagging")
    assert response["Retry-After"] == "1"
    listed = api.get("/api/orders/", headers={"X-Min-Position": str(placed["position"])}, settle=False)
    assert_problem(listed, 503, "projection-lagging")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "0x10", "1e3", "1 2", str(2**62 + 1), str(2**64)])
def test_a_malformed_x_min_position_is_a_400_problem(api, value):
    for path in ("/api/orders/", f"/api/orders/{uuid.uuid4()}"):
        assert_problem(api.get(path, headers={"X-Min-Position": value}), 400, "invalid-min-position")


@pytest.mark.django_db
def test_a_superscript_digit_x_min_position_is_a_400_problem(api):
    response = api.get(f"/api/orders/{uuid.uuid4()}", headers={"X-Min-Position": "²"})
    assert_problem(response, 400, "invalid-min-position")


def test_an_unknown_x_min_position_is_a_400_problem(api, settings):
    settings.READ_YOUR_WRITES_TIMEOUT = 0.2
    oid = api.place("cust_unknownpos")["order_id"]
    unknown = str(head_position() + 1000)
    assert_problem(api.get(f"/api/orders/{oid}", headers={"X-Min-Position": unknown}), 400)


def test_the_404_and_503_of_a_read_answer_x_projection_position_too(api, settings):
    settings.PROJECTIONS_MODE = "off"
    settings.READ_YOUR_WRITES_TIMEOUT = 0.1
    placed = api.place("cust_header")
    missing = api.get(f"/api/orders/{placed['order_id']}", settle=False)
    assert_problem(missing, 404, "order-not-found")
    assert missing.get("X-Projection-Position") == "0"
    lagging = api.get("/api/orders/", headers={"X-Min-Position": str(placed["position"])}, settle=False)
    assert_problem(lagging, 503, "projection-lagging")
    assert lagging.get("X-Projection-Position") == "0"


def test_inprocess_projection_survives_another_transaction_open_at_commit(api, settings):
    settings.READ_YOUR_WRITES_TIMEOUT = 0.5
    api.get("/api/orders/")  # caught up
    blocker = psycopg.connect(**connection.get_connection_params())
    try:
        blocker.execute("SELECT pg_current_xact_id()")  # an open transaction with an id
        placed = api.place("cust_blocked")  # committed; its in-process run sees nothing yet
    finally:
        blocker.rollback()
        blocker.close()
    response = api.get(
        f"/api/orders/{placed['order_id']}", headers={"X-Min-Position": str(placed["position"])}, settle=False
    )
    assert response.status_code == 200, response.content


# -- GET /api/projections/ -----------------------------------------------------------------


def test_projection_status_for_staff(api, settings):
    oid = api.place("cust_status")["order_id"]
    head = head_position()
    response = api.get("/api/projections/")
    assert response.status_code == 200
    projections = {p["name"]: p for p in response.json()["projections"]}
    assert set(projections) == {"order_list", "customer_summary", "daily_sales", "inventory", "fulfilment"}
    order_events = [
        "ItemAdded",
        "ItemRemoved",
        "OrderCancelled",
        "OrderConfirmed",
        "OrderPlaced",
        "OrderShipped",
    ]
    for name in ("order_list", "customer_summary", "daily_sales"):
        assert projections[name]["event_types"] == order_events
    assert "StockReserved" in projections["inventory"]["event_types"]
    assert {"OrderPlaced", "StockReserved", "ReservationRefused"} <= set(
        projections["fulfilment"]["event_types"]
    )
    for p in projections.values():
        assert p["consistency"] in ("async", "inline")
        assert p["checkpoint"]["position"] == head and p["checkpoint"]["tx_id"] > 0
        assert p["lag_events"] == 0 and p["lag_seconds"] == 0.0
        assert p["failures"] == [] and p["state"] == "running"
        assert p["events_seen"] >= 1
        # Orders here need no stock: inventory and fulfilment have nothing to apply.
        assert (p["events_applied"] >= 1) == (p["name"] in ("order_list", "customer_summary", "daily_sales"))

    settings.PROJECTIONS_MODE = "off"
    api.post(f"/api/orders/{oid}/ship")
    api.place("cust_status")
    behind = {p["name"]: p for p in api.get("/api/projections/", settle=False).json()["projections"]}
    assert all(p["lag_events"] == 2 and p["checkpoint"]["position"] == head for p in behind.values())
    caught_up = {p["name"]: p for p in api.get("/api/projections/").json()["projections"]}
    assert all(p["lag_events"] == 0 and p["checkpoint"]["position"] == head + 2 for p in caught_up.values())


@pytest.mark.django_db
def test_projection_status_is_for_staff_only(reader):
    assert_problem(reader.get("/api/projections/"), 403)
    response = Api(None).get("/api/projections/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Token")

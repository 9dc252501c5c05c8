"""GET /api/orders/: every row field, newest first by default; filters by
status, customer, total and placed time; each ordering; keyset pages forward
and back that a new order does not shift; the limit; and a 400 naming the
parameter for bad query parameters and cursors the list did not hand out."""

import base64
import uuid
from datetime import datetime, timedelta

import pytest

from tests.integration.read_api.support import ROW_FIELDS, ids, line
from tests.support import (
    LINE_A,
    LINE_B,
    assert_problem,
    cursor_of,
    last_position,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def place_many(api, customer, prices) -> list[str]:
    """One single-line order per price, placed one after another."""
    return [api.place(customer, [line(p)])["order_id"] for p in prices]


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


def test_list_is_newest_first_by_default_with_every_row_field(staff_api):
    first = staff_api.place("cust_list_a", [LINE_A])
    second = staff_api.place("cust_list_a", [LINE_A, LINE_B])
    third = staff_api.place("cust_list_a", [line(1, quantity=3)])
    staff_api.place("cust_list_other")

    response = staff_api.get("/api/orders/", customer_id="cust_list_a")
    assert response.status_code == 200
    body = response.json()
    assert ids(body["results"]) == [third["order_id"], second["order_id"], first["order_id"]]
    assert body["next"] is None and body["previous"] is None
    assert int(response["X-Projection-Position"]) == last_position()

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


def test_list_filters_by_status_customer_and_total(staff_api):
    c = "cust_filter"
    open_, shipped, cancelled, big = place_many(staff_api, c, [100, 200, 300, 5000])
    assert staff_api.post(f"/api/orders/{shipped}/ship", {"carrier": "DHL"}).status_code == 200
    assert staff_api.post(f"/api/orders/{cancelled}/cancel", {"reason": "changed mind"}).status_code == 200
    other = staff_api.place("cust_filter_other", [line(200)])["order_id"]

    assert set(ids(staff_api.orders(customer_id=c)["results"])) == {open_, shipped, cancelled, big}
    assert staff_api.orders(customer_id="CUST_FILTER")["results"] == []  # customer_id is exact
    everyone = {open_, shipped, cancelled, big, other}
    assert set(ids(staff_api.orders(customer_prefix="CUST_fil")["results"])) == everyone  # a prefix, any case
    assert set(ids(staff_api.orders(customer_prefix="cust_filter_")["results"])) == {other}
    assert set(ids(staff_api.orders(customer_id=c, status="placed")["results"])) == {open_, big}
    shipped_rows = staff_api.orders(customer_id=c, status="shipped")["results"]
    assert ids(shipped_rows) == [shipped]
    assert shipped_rows[0]["shipped_at"] is not None and shipped_rows[0]["version"] == 2
    cancelled_rows = staff_api.orders(customer_id=c, status="cancelled")["results"]
    assert ids(cancelled_rows) == [cancelled] and cancelled_rows[0]["cancelled_at"] is not None

    # Both total bounds are inclusive.
    assert set(ids(staff_api.orders(customer_id=c, total_min=200, total_max=300)["results"])) == {
        shipped,
        cancelled,
    }
    assert ids(staff_api.orders(customer_id=c, total_min=5000)["results"]) == [big]
    assert ids(staff_api.orders(customer_id=c, total_max=100)["results"]) == [open_]
    assert staff_api.orders(customer_id=c, total_min=301, total_max=4999)["results"] == []
    assert staff_api.orders(customer_id=c, total_min=400, total_max=300)["results"] == []
    assert ids(staff_api.orders(customer_id=c, status="placed", total_max=4999)["results"]) == [open_]
    # Without customer_id, filters span every customer.
    assert {r["customer_id"] for r in staff_api.orders(total_min=200, total_max=200)["results"]} == {
        c,
        "cust_filter_other",
    }
    assert staff_api.orders(customer_id="cust_nobody")["results"] == []


def test_list_filters_by_placed_time_from_inclusive_to_exclusive(staff_api):
    c = "cust_time"
    oids = place_many(staff_api, c, [100, 200, 300, 400])
    rows = staff_api.orders(customer_id=c, ordering="placed_at")["results"]
    assert ids(rows) == oids
    at = [r["placed_at"] for r in rows]

    assert (
        ids(staff_api.orders(customer_id=c, ordering="placed_at", placed_from=at[1])["results"]) == oids[1:]
    )
    assert ids(staff_api.orders(customer_id=c, ordering="placed_at", placed_to=at[2])["results"]) == oids[:2]
    window = staff_api.orders(customer_id=c, ordering="placed_at", placed_from=at[1], placed_to=at[3])
    assert ids(window["results"]) == oids[1:3]
    assert staff_api.orders(customer_id=c, placed_from=at[2], placed_to=at[2])["results"] == []

    # Other offsets name the same instant.
    shifted = datetime.fromisoformat(at[1]).astimezone(
        datetime.fromisoformat("2000-01-01T00:00+05:30").tzinfo
    )
    assert (
        ids(staff_api.orders(customer_id=c, ordering="placed_at", placed_from=shifted.isoformat())["results"])
        == (oids[1:])
    )
    later = (datetime.fromisoformat(at[3]) + timedelta(days=1)).isoformat()
    assert staff_api.orders(customer_id=c, placed_from=later)["results"] == []


def test_each_ordering_sorts_by_its_key_then_order_id(staff_api):
    c = "cust_ordering"
    oids = place_many(staff_api, c, [700, 100, 700, 900, 100, 700])
    by = {o: staff_api.orders(customer_id=c, ordering=o)["results"] for o in ORDERINGS}
    for ordering, rows in by.items():
        assert sorted(ids(rows)) == sorted(oids), ordering
        assert ids(rows) == expected_order(rows, ordering), ordering
    assert ids(by["-placed_at"]) == oids[::-1]
    assert ids(by["placed_at"]) == oids
    assert [r["total_cents"] for r in by["total"]] == [100, 100, 700, 700, 700, 900]
    assert ids(by["-total"]) == ids(by["total"])[::-1]


def walk(staff_api, **params):
    """Every page from the first via `next`; checks each answer on the way."""
    pages, response = [], staff_api.get("/api/orders/", **params)
    while True:
        assert response.status_code == 200, response.content
        assert int(response["X-Projection-Position"]) == last_position()
        pages.append(response.json())
        if pages[-1]["next"] is None:
            return pages
        response = staff_api.get(pages[-1]["next"])


def test_cursor_pages_walk_forward_and_back_over_every_order_once(staff_api):
    c = "cust_pages"
    # Equal totals straddle page boundaries, so the order_id tie-break matters.
    oids = place_many(staff_api, c, [500, 500, 500, 200, 500, 900, 200])
    for ordering in ORDERINGS:
        everything = staff_api.orders(customer_id=c, ordering=ordering, limit=200)["results"]
        expected = ids(everything)
        assert expected == expected_order(everything, ordering) and sorted(expected) == sorted(oids)

        pages = walk(staff_api, customer_id=c, ordering=ordering, limit=3)
        assert [len(p["results"]) for p in pages] == [3, 3, 1], ordering
        assert [i for p in pages for i in ids(p["results"])] == expected, ordering
        assert pages[0]["previous"] is None
        assert all(p["previous"] is not None for p in pages[1:])
        assert all(f"customer_id={c}" in p["next"] and "limit=3" in p["next"] for p in pages[:-1])

        # Back from the last page, one page at a time: the same pages, reversed.
        back = [pages[-1]]
        while back[-1]["previous"] is not None:
            back.append(staff_api.get(back[-1]["previous"]).json())
        assert [ids(p["results"]) for p in back] == [ids(p["results"]) for p in reversed(pages)], ordering
        assert all(p["next"] is not None for p in back[1:])
        # And forward again from a page reached going back.
        assert ids(staff_api.get(back[-1]["next"]).json()["results"]) == ids(pages[1]["results"])


def test_a_new_order_does_not_shift_the_pages_being_walked(staff_api):
    c = "cust_stable"
    place_many(staff_api, c, [100, 200, 300, 400, 500])
    first = staff_api.orders(customer_id=c, limit=2)
    newest = staff_api.place(c, [line(600)])["order_id"]
    seen = ids(first["results"])
    page = first
    while page["next"]:
        page = staff_api.get(page["next"]).json()
        seen += ids(page["results"])
    assert newest not in seen
    assert len(seen) == len(set(seen)) == 5
    assert ids(staff_api.orders(customer_id=c, limit=1)["results"]) == [newest]


def test_limit_is_from_1_to_200_and_defaults_to_50(staff_api):
    c = "cust_limit"
    oids = place_many(staff_api, c, [100, 200, 300])
    one = staff_api.orders(customer_id=c, limit=1)
    assert ids(one["results"]) == [oids[-1]] and one["next"] is not None
    assert len(staff_api.orders(customer_id=c, limit=200)["results"]) == 3
    assert len(staff_api.orders(customer_id=c)["results"]) == 3  # default 50
    for bad in ("0", "201", "1000", "-1", "abc", "1.5"):
        body = assert_problem(
            staff_api.get("/api/orders/", customer_id=c, limit=bad), 400, "validation-error"
        )
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
def test_bad_query_parameters_get_400_naming_the_parameter(staff_api, params, field):
    body = assert_problem(staff_api.get("/api/orders/", **params), 400, "validation-error")
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
def test_a_cursor_this_list_did_not_hand_out_gets_400(staff_api, cursor):
    assert_problem(staff_api.get("/api/orders/", cursor=cursor), 400, "invalid-cursor")


def test_a_cursor_of_one_ordering_is_refused_by_another(staff_api):
    place_many(staff_api, "cust_cross", [100, 200])
    by_time = staff_api.orders(customer_id="cust_cross", limit=1)
    cursor = by_time["next"].split("cursor=")[1]
    assert_problem(staff_api.get("/api/orders/", ordering="total", cursor=cursor), 400, "invalid-cursor")
    assert_problem(
        staff_api.get("/api/orders/", cursor=cursor_of([True, str(uuid.uuid4()), "n"]), ordering="-total"),
        400,
        "invalid-cursor",
    )
    assert_problem(
        staff_api.get("/api/orders/", cursor=cursor_of([1.5, str(uuid.uuid4()), "n"]), ordering="total"),
        400,
        "invalid-cursor",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("order_id", [123, ["x"], {"a": 1}])
def test_a_cursor_whose_order_id_is_not_a_string_gets_400(staff_api, order_id):
    response = staff_api.get("/api/orders/", cursor=cursor_of(["2026-01-01T00:00:00+00:00", order_id, "n"]))
    assert_problem(response, 400, "invalid-cursor")


def test_any_signed_in_user_may_list_orders(staff_api, reader_api):
    oid = staff_api.place("cust_reader")["order_id"]
    response = reader_api.get("/api/orders/", customer_id="cust_reader")
    assert response.status_code == 200, response.content
    assert ids(response.json()["results"]) == [oid]

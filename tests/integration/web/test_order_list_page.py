"""The order list page: filters and their counts (the customer by the start
of its id, in any case), UTC days, sorting, keyset pages of the size chosen
with links named for the sort, jumping to an order by (a prefix of) its id,
and what bad or extreme parameters answer."""

import html
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orders import commands
from tests.integration.web.pages import (
    D1,
    D2,
    D3,
    committed,
    link,
    listed_ids,
    messages_shown,
    result_count,
    text,
)
from tests.support import cursor_of, login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@committed
def test_list_filters_select_the_matching_orders_and_count_them(reader):
    a = str(place_order("cust_a", [("A-1", 1, 1999)], at=D1).order_id)
    b = str(place_order("cust_a", [("B-1", 1, 2000)], at=D2).order_id)
    run_command(commands.ShipOrder(uuid.UUID(b), "DHL"), at=D2 + timedelta(hours=1))
    c = str(place_order("cust_b", [("C-1", 2, 2500)], at=D3).order_id)
    run_command(commands.CancelOrder(uuid.UUID(c), "changed mind"), at=D3 + timedelta(hours=1))
    d = str(place_order("cust_b", [("D-1", 1, 1998)], at=D2 + timedelta(minutes=5)).order_id)
    settle()
    client = login(reader)
    cases = [
        ({}, [c, d, b, a]),  # newest first
        ({"status": "shipped"}, [b]),
        ({"status": "cancelled"}, [c]),
        ({"status": "placed"}, [d, a]),
        ({"customer_id": "cust_a"}, [b, a]),
        ({"customer_id": "CUST_A"}, [b, a]),  # any case
        ({"customer_id": "cust"}, [c, d, b, a]),  # the start of the id
        ({"customer_id": "Cust_B", "status": "placed"}, [d]),
        ({"customer_id": "ust_a"}, []),  # not the middle
        ({"customer_id": "cust%"}, []),  # no wildcards
        ({"placed_from": "2025-03-11", "placed_to": "2025-03-11"}, [d, b]),  # both ends inclusive
        ({"placed_to": "2025-03-10"}, [a]),
        ({"placed_from": "2025-03-12"}, [c]),
        ({"total_min": "19.99", "total_max": "20.00"}, [b, a]),  # currency units, inclusive
        ({"total_min": "19.99"}, [c, b, a]),
        ({"total_max": "19.98"}, [d]),
        ({"total_min": "20", "ordering": "total"}, [b, c]),
        ({"customer_id": "nobody"}, []),
    ]
    for params, expected in cases:
        response = client.get("/orders/", params)
        assert response.status_code == 200, params
        assert listed_ids(response) == expected, params
        n = len(expected)
        assert result_count(response) == f"{n} order{'' if n == 1 else 's'}", params
        assert (n == 0) == ("No orders match." in text(response))


@committed
def test_list_dates_are_utc_days_whatever_the_browser_zone(reader):
    late_evening_utc = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)  # 00:30 on the 11th in Berlin
    order = place_order(at=late_evening_utc).order_id
    settle()
    client = login(reader)
    client.cookies["tz"] = "Europe/Berlin"  # what an older version read the zone from: ignored

    assert listed_ids(client.get("/orders/", {"placed_to": "2025-03-10"})) == [str(order)]
    assert listed_ids(client.get("/orders/", {"placed_from": "2025-03-11"})) == []
    page = text(client.get("/orders/"))
    assert '<time datetime="2025-03-10T23:30:00+00:00">2025-03-10 23:30 UTC</time>' in page
    assert "Placed from (UTC)" in page


@committed
def test_sorting_links_switch_between_placed_and_total_orderings(reader):
    first = str(place_order(lines=[("X", 1, 4000)], at=D1).order_id)
    second = str(place_order(lines=[("X", 1, 500)], at=D2).order_id)
    third = str(place_order(lines=[("X", 1, 1999)], at=D3).order_id)
    settle()
    client = login(reader)

    default = client.get("/orders/")
    assert listed_ids(default) == [third, second, first]
    assert 'href="?ordering=placed_at"' in text(default)  # "Placed ▼" sorts oldest first
    assert 'href="?ordering=-total"' in text(default)

    expectations = {
        "placed_at": ([first, second, third], "?ordering=-placed_at"),
        "-placed_at": ([third, second, first], "?ordering=placed_at"),
        "total": ([second, third, first], "?ordering=-total"),
        "-total": ([first, third, second], "?ordering=total"),
    }
    for ordering, (ids, toggle) in expectations.items():
        response = client.get("/orders/", {"ordering": ordering})
        assert response.status_code == 200
        assert listed_ids(response) == ids, ordering
        assert f'href="{toggle}"' in text(response), ordering


@committed
@pytest.mark.parametrize("ordering", ["-placed_at", "total"])
def test_keyset_pages_follow_next_then_previous_and_show_every_order_once(reader, ordering):
    times = [D1, D2, D3]
    wanted = {
        str(place_order("cust_page", [("X", 1, 100 + i % 7)], at=times[i % 3]).order_id)  # many ties
        for i in range(55)
    }
    place_order("cust_other")
    settle()
    client = login(reader)

    first = client.get("/orders/", {"customer_id": "cust_page", "ordering": ordering})
    assert result_count(first) == "55 orders"
    assert len(listed_ids(first)) == 50
    assert link(first, "prev") is None
    next_link = link(first, "next")
    assert "customer_id=cust_page" in next_link and f"ordering={ordering}" in next_link

    second = client.get("/orders/" + next_link)
    assert len(listed_ids(second)) == 5
    assert link(second, "next") is None
    assert set(listed_ids(first)) | set(listed_ids(second)) == wanted
    assert not set(listed_ids(first)) & set(listed_ids(second))

    back = client.get("/orders/" + link(second, "prev"))
    assert listed_ids(back) == listed_ids(first)
    assert link(back, "prev") is None and link(back, "next") is not None


@committed
@pytest.mark.parametrize(
    "ordering, previous, next_",
    [
        ("-placed_at", "← Newer orders", "Older orders →"),
        ("placed_at", "← Older orders", "Newer orders →"),
        ("-total", "← Higher totals", "Lower totals →"),
        ("total", "← Lower totals", "Higher totals →"),
    ],
)
def test_page_links_are_named_for_the_sort_and_pages_have_the_size_chosen(reader, ordering, previous, next_):
    for i in range(30):
        place_order("cust_size", [("X", 1, 100 + i)], at=D1 + timedelta(minutes=i))
    settle()
    client = login(reader)

    first = client.get("/orders/", {"ordering": ordering, "per_page": "25"})
    assert len(listed_ids(first)) == 25
    assert '<option value="25" selected>25</option>' in text(first)
    assert f'rel="next">{next_}</a>' in html.unescape(text(first))
    second = client.get("/orders/" + link(first, "next"))
    assert len(listed_ids(second)) == 5
    assert "per_page=25" in link(second, "prev")
    assert f'rel="prev">{previous}</a>' in html.unescape(text(second))
    assert "Next page" not in text(second) and "Newer page" not in text(second)

    default = client.get("/orders/", {"ordering": ordering})
    assert len(listed_ids(default)) == 30  # 50 by default
    assert '<option value="50" selected>50</option>' in text(default)


@committed
def test_search_jumps_to_an_order_by_full_id_or_a_prefix(reader):
    order = str(place_order().order_id)
    settle()
    client = login(reader)

    for query in (order, order.upper(), f"  {order}  ", order[:8], order[:13]):
        response = client.get("/orders/", {"q": query})
        assert response.status_code == 302, query
        assert response["Location"] == f"/orders/{order}/"


@committed
def test_search_for_an_unknown_or_ambiguous_prefix_shows_a_message(reader):
    place_order(order_id=uuid.UUID("abcdef01-1111-4000-8000-000000000001"))
    place_order(order_id=uuid.UUID("abcdef01-2222-4000-8000-000000000002"))
    settle()
    client = login(reader)

    for query in ("12345678", "abce", "not-an-id"):
        response = client.get("/orders/", {"q": query})
        assert response.status_code == 200, query
        assert f"No order found for “{query}”." in messages_shown(response)
        assert listed_ids(response) == []  # a search that found nothing lists nothing
        export = client.get("/orders/export.csv", {"q": query})
        assert (
            export.status_code == 200 and len(b"".join(export.streaming_content).splitlines()) == 1
        )  # header

    too_short = client.get("/orders/", {"q": "abc"})
    assert "Type at least the first 4 characters of the order id." in messages_shown(too_short)
    assert len(listed_ids(too_short)) == 2

    for ambiguous in ("abcd", "ABCDEF01"):  # both match: the list shows just them
        response = client.get("/orders/", {"q": ambiguous})
        assert response.status_code == 200
        assert sorted(listed_ids(response)) == [
            "abcdef01-1111-4000-8000-000000000001",
            "abcdef01-2222-4000-8000-000000000002",
        ]
        assert messages_shown(response) == ""

    unique = client.get("/orders/", {"q": "ABCDEF01-2"})  # nine characters tell them apart
    assert unique["Location"] == "/orders/abcdef01-2222-4000-8000-000000000002/"


@committed
def test_search_by_an_id_prefix_of_four_characters_jumps_to_the_one_order(reader):
    order = place_order(order_id=uuid.UUID("beef0001-1111-4000-8000-000000000001")).order_id
    place_order(order_id=uuid.UUID("abcdef01-1111-4000-8000-000000000001"))
    settle()

    response = login(reader).get("/orders/", {"q": "BEEF"})

    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order}/"


@committed
def test_search_for_an_unknown_full_id_shows_a_message(reader):
    place_order()
    settle()
    unknown = str(uuid.uuid4())

    response = login(reader).get("/orders/", {"q": unknown})

    assert response.status_code == 200
    assert f"No order found for “{unknown}”." in messages_shown(response)


@pytest.mark.parametrize(
    "params, error",
    [
        ({"placed_from": "2025-13-45"}, "Placed from (UTC): Enter a valid date."),
        ({"placed_to": "yesterday"}, "Placed to (UTC): Enter a valid date."),
        ({"per_page": "1000"}, "Per page: Select a valid choice."),
        ({"total_min": "abc"}, "Total from: Enter a number."),
        ({"total_max": "12x"}, "Total to: Enter a number."),
        ({"total_min": "NaN"}, "Total from: Enter a number."),
        ({"total_min": "-1"}, "Total from: Ensure this value is greater than or equal to 0."),
        ({"total_max": "19.999"}, "Total to: Ensure that there are no more than 2 decimal places."),
        ({"total_max": "1e400"}, "Total to: Ensure that there are no more than 14 digits in total."),
        ({"ordering": "price; DROP TABLE events"}, "Select a valid choice."),
        ({"status": "lost"}, "Status: Select a valid choice."),
        ({"customer_id": "c" * 1000}, "Customer: Ensure this value has at most 64 characters"),
        ({"q": "1" * 1000}, "Order id: Ensure this value has at most 64 characters"),
        ({"cursor": "x" * 5000}, "Ensure this value has at most 500 characters"),
        ({"customer_id": "a\x00b"}, "Null characters are not allowed."),
    ],
)
def test_bad_list_parameters_answer_400_with_the_form_errors(reader, params, error):
    response = login(reader).get("/orders/", params)

    assert response.status_code == 400
    assert error in html.unescape(text(response))
    assert 'id="result-count"' not in text(response)  # no list under filters that were not understood


@committed
def test_a_bad_page_cursor_shows_a_message_and_the_first_page(reader):
    order = str(place_order().order_id)
    settle()
    client = login(reader)
    cases = [
        {"cursor": "garbage!!"},
        {"cursor": "eyJub3QiOiAiYSBsaXN0In0"},  # {"not": "a list"}
        {"cursor": cursor_of(["2025-03-10T12:00:00+00:00", str(uuid.uuid4()), "n"]), "ordering": "total"},
        {"cursor": cursor_of([1999, str(uuid.uuid4()), "n"]), "ordering": "placed_at"},
        {"cursor": cursor_of(["2025-03-10T12:00:00", str(uuid.uuid4()), "n"])},  # naive time
        {"cursor": cursor_of([100, "not-a-uuid", "n"]), "ordering": "total"},
        {"cursor": cursor_of([100, str(uuid.uuid4()), "sideways"]), "ordering": "total"},
        {"cursor": cursor_of([True, str(uuid.uuid4()), "n"]), "ordering": "total"},
    ]
    for params in cases:
        response = client.get("/orders/", params)
        assert response.status_code == 200, params
        assert "That page link is no longer valid; showing the first page." in messages_shown(response)
        assert listed_ids(response) == [order], params


@pytest.mark.parametrize(
    "params",
    [
        {"placed_to": "9999-12-31"},
        {"placed_from": "0001-01-01"},
        {"placed_to": "0001-01-01"},
        {"total_max": "999999999999.99"},
        {"cursor": cursor_of([2**64 - 1, str(uuid.uuid4()), "n"]), "ordering": "-total"},
        {"cursor": cursor_of(["0001-01-01T00:00:00+14:00", str(uuid.uuid4()), "p"])},
        {"cursor": cursor_of(["9999-12-31T23:59:59-12:00", str(uuid.uuid4()), "n"])},
    ],
)
def test_extreme_but_well_formed_list_parameters_never_give_a_500(reader, params):
    response = login(reader).get("/orders/", params)

    assert response.status_code in (200, 400)
    assert "No orders match." in text(response) or response.status_code == 400

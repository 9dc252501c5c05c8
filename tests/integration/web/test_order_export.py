"""The order list as CSV: the page's filters and ordering, every matching
order (not one page), streamed; decimal amounts with the currency, times in
ISO-8601 UTC; the page's permission."""

import csv
import io
import re
from datetime import timedelta

import pytest

from orders import commands, export
from tests.integration.web.pages import D1, D2, D3, committed, listed_ids
from tests.support import login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def download(client, **params) -> tuple[object, list[dict]]:
    response = client.get("/orders/export.csv", params)
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return response, list(csv.DictReader(io.StringIO(body)))


@committed
def test_the_export_has_every_matching_order_with_decimal_amounts_and_utc_times(reader, settings):
    settings.SHOP_CURRENCY = "EUR"
    a = place_order("Cust_A", [("A-1", 1, 1999)], at=D1).order_id
    b = place_order("cust_a2", [("B-1", 2, 100_000)], at=D2).order_id
    run_command(commands.ShipOrder(b, "DHL", "=HYPERLINK(1)"), at=D2 + timedelta(hours=1))
    place_order("other", [("C-1", 1, 5)], at=D3)
    settle()

    response, rows = download(login(reader), customer_id="cust_a")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="orders-\d{8}T\d{4}Z\.csv"', response["Content-Disposition"])
    assert list(rows[0]) == list(export.COLUMNS)
    assert [r["order_id"] for r in rows] == [str(b), str(a)]  # the page's default: newest first
    shipped, placed = rows
    assert (shipped["customer_id"], shipped["status"], shipped["lines"], shipped["items"]) == (
        "cust_a2",
        "shipped",
        "1",
        "2",
    )
    assert (shipped["total"], shipped["currency"]) == ("2000.00", "EUR")
    assert (placed["total"], placed["currency"]) == ("19.99", "EUR")
    assert placed["placed_at"] == "2025-03-10T12:00:00Z"
    assert shipped["shipped_at"] == "2025-03-11T13:00:00Z" and placed["shipped_at"] == ""
    assert shipped["carrier"] == "DHL"
    assert shipped["tracking_number"] == "'=HYPERLINK(1)"  # never run as a spreadsheet formula


@committed
def test_the_export_follows_the_pages_filters_and_ordering_past_one_batch(reader, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 7)  # several keyset pages
    wanted = [
        place_order("cust_many", [("X", 1, 100 + i)], at=D1 + timedelta(minutes=i)).order_id
        for i in range(30)
    ]
    cancelled = wanted[3]
    run_command(commands.CancelOrder(cancelled, "no"))
    place_order("cust_other", [("X", 1, 1)])
    settle()
    client = login(reader)

    _, by_total = download(client, customer_id="CUST_M", ordering="total", per_page="25", cursor="ignored")
    _, only_cancelled = download(client, customer_id="cust_many", status="cancelled")
    _, by_id = download(client, q=str(wanted[5])[:8])

    assert [r["order_id"] for r in by_total] == [str(o) for o in wanted]  # all 30, lowest total first
    assert [r["order_id"] for r in only_cancelled] == [str(cancelled)]
    assert [r["order_id"] for r in by_id] == [str(wanted[5])]


def test_the_export_needs_a_signed_in_user_like_the_page():
    response = login(None).get("/orders/export.csv", {"status": "placed"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/orders/export.csv")


def test_the_export_with_filters_the_page_refuses_goes_back_to_the_page(reader):
    response = login(reader).get("/orders/export.csv", {"total_min": "abc", "status": "shipped"})

    assert response.status_code == 302
    assert response["Location"] == "/orders/?total_min=abc&status=shipped"


@committed
def test_the_list_links_to_the_export_of_what_it_shows(reader):
    place_order("cust_link")
    settle()

    page = login(reader).get(
        "/orders/", {"customer_id": "cust_link", "ordering": "total", "cursor": "x" * 10}
    )

    link = re.search(r'id="export-csv" href="([^"]+)"', page.content.decode()).group(1)
    assert link == "/orders/export.csv?customer_id=cust_link&amp;ordering=total"


@committed
def test_the_export_of_a_search_that_found_nothing_is_the_list_the_page_shows(reader):
    order = place_order("cust_search").order_id
    settle()
    client = login(reader)

    page = client.get("/orders/", {"q": "0000beef"})
    _, rows = download(client, q="0000beef")

    assert listed_ids(page) == [r["order_id"] for r in rows] == []  # nothing found: nothing listed
    assert listed_ids(client.get("/orders/")) == [str(order)]

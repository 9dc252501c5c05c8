"""One rule for times: UTC on every page, labelled, whatever the browser's
zone (the dashboard's days too). And the merchant's words on the pages
people use: no event names, read models, projections or cents; plural
names that are words in the admin; the API docs in the navigation."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from eventstore.registry import registry
from orders import commands
from tests.integration.web.pages import D1, committed, json_script, text, timeline_entries, visible_text
from tests.support import login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

TIME = re.compile(r"<time [^>]*>(.*?)</time>", re.S)


def shown_times(response) -> list[str]:
    return [t.strip() for t in TIME.findall(text(response))]


@committed
def test_every_page_shows_times_in_utc_with_the_label_whatever_the_browser_zone(staff):
    order = place_order("cust_tz", at=D1).order_id  # 12:00 UTC: 21:00 in Tokyo
    run_command(commands.ReceiveStock("WIDGET-A", 5), at=D1 + timedelta(minutes=5))
    settle()
    client = login(staff)
    client.cookies["tz"] = "Asia/Tokyo"  # a browser far from UTC (an older version read it)

    pages = {
        "list": client.get("/orders/"),
        "detail": client.get(f"/orders/{order}/"),
        "audit": client.get("/audit/"),
    }

    assert "2025-03-10 12:00 UTC" in shown_times(pages["list"])
    assert "2025-03-10 12:00:00 UTC" in shown_times(pages["detail"])  # placed, and the history
    assert "2025-03-10 12:05:00 UTC" in shown_times(pages["audit"])
    for name, page in pages.items():
        times = shown_times(page)
        assert times, name
        assert all(t.endswith(" UTC") for t in times), (name, times)
        assert "21:00" not in visible_text(page), name
    assert re.search(r"Updated \d\d:\d\d:\d\d UTC", visible_text(client.get("/projections/")))


@committed
def test_as_of_reads_and_shows_utc(reader):
    order = place_order(at=D1).order_id
    settle()
    client = login(reader)
    client.cookies["tz"] = "America/New_York"

    page = client.get(f"/orders/{order}/", {"as_of": "2025-03-10T12:00:01"})

    assert "Show the order as it was at (UTC)" in visible_text(page)
    assert "At 2025-03-10 12:00:01 UTC, after 1 event" in visible_text(page)
    assert 'value="2025-03-10T12:00:01.000"' in text(page)


@committed
def test_the_dashboard_counts_utc_days_and_says_so(reader):
    late = timezone.now().replace(hour=0, minute=30, second=0, microsecond=0) - timedelta(days=1)
    place_order(at=late)  # 00:30 UTC: still the day before in New York
    settle()
    client = login(reader)
    client.cookies["tz"] = "America/New_York"

    page = client.get("/dashboard/")

    series = {day["day"]: day["placed"] for day in json_script(page, "series-data")}
    assert series[late.date().isoformat()] == 1
    assert series[(late.date() - timedelta(days=1)).isoformat()] == 0
    assert "days in UTC" in visible_text(page)


# Words a shop's staff should not meet on the pages they use every day.
JARGON = re.compile(r"read model|projection|\bcents?\b|aggregate|event store|correlation", re.I)


@committed
def test_the_pages_a_reader_uses_speak_the_merchants_words(reader):
    order = place_order("cust_words", lines=(("WIDGET-A", 2, 1999), ("GADGET-B", 1, 500))).order_id
    run_command(commands.AddItem(order, "NEW-1", 1, 250))
    run_command(commands.RemoveItem(order, "NEW-1"))
    run_command(commands.ShipOrder(order, "DHL"))
    settle()
    client = login(reader)
    event_names = set(registry.current_versions)

    for path in ("/orders/", f"/orders/{order}/", "/dashboard/", "/inventory/", "/audit/"):
        words = visible_text(client.get(path, follow=True))
        assert not JARGON.search(words), (path, JARGON.search(words).group(0))
        assert not [name for name in event_names if name in words], path


@committed
def test_the_history_tells_what_happened_in_sentences(reader, settings):
    settings.INVENTORY_RESERVATION = True
    run_command(commands.ReceiveStock("WIDGET-A", 10))
    order = place_order("cust_story", lines=(("WIDGET-A", 2, 1999),)).order_id
    settle()  # the fulfilment process reserves the stock and confirms the order
    run_command(commands.AddItem(order, "GADGET-B", 2, 500))
    run_command(commands.CancelOrder(order, "customer called"))
    settle()

    page = login(reader).get(f"/orders/{order}/")

    assert timeline_entries(page)[:2] == [
        "Placed for cust_story: 1 line, total €39.98",
        "Confirmed: stock reserved for every line",
    ]
    assert "Added 2 \u00d7 GADGET-B at €5.00" in timeline_entries(page)
    assert timeline_entries(page)[-1] == "Cancelled: customer called"
    assert "Confirmed: stock reserved for every line 20" in visible_text(page)  # its time follows
    assert "automatically" in visible_text(page)  # the confirmation had no user behind it
    assert "system:" not in visible_text(page)


def test_staff_see_plural_names_that_are_words_in_the_admin(staff):
    staff.is_superuser = True  # as the demo's and create_user's staff users are
    staff.save()

    words = visible_text(login(staff).get("/admin/"))

    for name in ("Order summaries", "Customer summaries", "Daily sales", "Fulfilment processes"):
        assert name in words
    for wrong in ("summarys", "saless", "processs"):
        assert wrong not in words.lower()


def test_the_navigation_links_to_the_api_docs(reader):
    client = login(reader)

    assert '<a href="/api/docs/">API docs</a>' in text(client.get("/dashboard/"))
    assert client.get("/api/docs/").status_code == 200

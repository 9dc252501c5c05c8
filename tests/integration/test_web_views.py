"""The server-rendered web UI through Django's test client: who may see and
do what, the order list (filters, sorting, keyset pages, search), the
place-order form, the order page (lines, timeline, "as of", the command
forms and their conflicts), the audit trail, the dashboard and the
projection status page.

Pages read the read models, which projections fill from COMMITTED events
only: tests that look at them commit for real (``committed``) and run the
projections explicitly (``settle``); the others roll back."""

import base64
import html
import json
import re
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.utils import timezone

from eventstore import EventStore
from eventstore.clock import frozen
from eventstore.metadata import message_context
from eventstore.models import Event
from orders import commands
from orders.domain import Line
from projections import failures, runner
from projections.base import registry
from projections.models import ProjectionFailure
from projections.status import status as projection_status

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
# Tests that read the order list, the order page or the dashboard need the
# projections, which see only committed events: those tests commit for real.
committed = pytest.mark.django_db(transaction=True)

READ_MODELS = ("order_list", "customer_summary", "daily_sales")
WIDGET = ("WIDGET-A", 2, 1999)
GADGET = ("GADGET-B", 1, 500)
D1 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
D2 = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)
D3 = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)
COMMAND_FORM = re.compile(r'action="/orders/[0-9a-f-]{36}/(add|remove|ship|cancel)"')


@pytest.fixture(autouse=True)
def short_read_your_writes_wait(settings):
    """Tests run the projections themselves; a page never needs to wait long."""
    settings.READ_YOUR_WRITES_TIMEOUT = 1.0


# -- users and clients -----------------------------------------------------------------


@pytest.fixture
def reader():
    return User.objects.create_user("reader", password="pw-reader-123")


@pytest.fixture
def manager():
    # Transactional tests flush the tables, so the group of the data migration may be gone.
    group, _ = Group.objects.get_or_create(name="Order managers")
    group.permissions.add(Permission.objects.get(codename="manage_orders", content_type__app_label="orders"))
    user = User.objects.create_user("manager", password="pw-manager-123")
    user.groups.add(group)
    return user


@pytest.fixture
def other():
    return User.objects.create_user("other", password="pw-other-123")


@pytest.fixture
def staff():
    return User.objects.create_user("boss", password="pw-boss-123", is_staff=True)


def login(user: User | None, **kwargs) -> Client:
    client = Client(raise_request_exception=False, **kwargs)  # a 500 is an answer to assert on
    if user is not None:
        client.force_login(user)
    return client


# -- writing orders and waiting for the read models ------------------------------------


def place(customer="cust_web", lines=(WIDGET,), *, user=None, at=None, order_id=None, correlation=None):
    command = commands.PlaceOrder(customer, tuple(Line(*line) for line in lines), order_id or uuid.uuid4())
    return run(command, user=user, at=at, correlation=correlation)


def run(command, *, user=None, at=None, correlation=None):
    """Execute a command as ``user``, at time ``at``, under a correlation id."""
    with ExitStack() as stack:
        if at is not None:
            stack.enter_context(frozen(at))
        context = {"user_id": str(user.pk)} if user else {}
        if correlation:
            context["correlation_id"] = correlation
        stack.enter_context(message_context(**context))
        return commands.execute(command)


def settle(timeout: float = 30.0) -> None:
    """Run the projections until the order read models include every event.
    (Another transaction open on the shared PostgreSQL server can hold the
    gap-safe read back for a while: never lost, only delayed.)"""
    deadline = time.monotonic() + timeout
    while True:
        runner.run_all()
        lagging = [p["name"] for p in projection_status() if p["name"] in READ_MODELS and p["lag_events"]]
        if not lagging:
            return
        assert time.monotonic() < deadline, f"read models did not catch up: {lagging}"
        time.sleep(0.02)


def event_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        return cursor.fetchone()[0]


def events_of(order_id) -> list:
    return EventStore().load(order_id)


# -- reading pages ---------------------------------------------------------------------


def text(response) -> str:
    return response.content.decode()


def listed_ids(response) -> list[str]:
    """Order ids in the list's table, in the order shown."""
    return re.findall(r'<a class="mono" href="/orders/([0-9a-f-]{36})/">', text(response))


def link(response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', text(response))
    return html.unescape(found.group(1)) if found else None


def result_count(response) -> str:
    return re.search(r'<p class="muted" id="result-count">([^<]*)</p>', text(response)).group(1)


def audit_positions(response) -> list[int]:
    return [int(p) for p in re.findall(r'<td class="num mono">(\d+)</td>', text(response))]


def timeline(response) -> list[tuple[str, int]]:
    section = text(response).split('id="timeline"', 1)[1]
    return [
        (t, int(v)) for t, v in re.findall(r"<strong>(\w+)</strong> <span class=\"muted\">v(\d+)", section)
    ]


def version_inputs(response) -> list[int]:
    return [int(v) for v in re.findall(r'name="version" value="(\d+)"', text(response))]


def post_forms(response) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]*)"', text(response))


def messages_shown(response) -> str:
    found = re.search(r'<ul class="messages" role="status">(.*?)</ul>', text(response), re.S)
    return html.unescape(found.group(1)) if found else ""


def json_script(response, element_id: str):
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', text(response), re.S
    )
    return json.loads(found.group(1))


def cursor_of(value, order_id, direction="n") -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, str(order_id), direction])).decode().rstrip("=")


# == permissions ========================================================================


@pytest.mark.parametrize(
    "path, login_page",
    [
        ("/orders/", "/accounts/login/"),
        (f"/orders/{uuid.uuid4()}/", "/accounts/login/"),
        ("/dashboard/", "/accounts/login/"),
        ("/audit/", "/admin/login/"),
        ("/projections/", "/admin/login/"),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(path, login_page):
    response = login(None).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{login_page}?next={path}"


def test_anonymous_posts_are_sent_to_the_login_page_and_change_nothing():
    order = place()
    client = login(None)

    place_response = client.post(
        "/orders/", {"customer_id": "c1", "sku_0": "A", "quantity_0": 1, "price_cents_0": 1}
    )
    cancel_response = client.post(f"/orders/{order.order_id}/cancel", {"version": 1, "reason": "no"})

    assert place_response.status_code == cancel_response.status_code == 302
    assert cancel_response["Location"].startswith("/accounts/login/?next=")
    assert event_count() == 1


@committed
def test_a_signed_in_reader_sees_orders_but_no_command_forms(reader):
    order = place(lines=(WIDGET, GADGET))
    settle()
    client = login(reader)

    listing = client.get("/orders/")
    detail = client.get(f"/orders/{order.order_id}/")

    assert listing.status_code == detail.status_code == 200
    assert listed_ids(listing) == [str(order.order_id)]
    assert 'id="place"' not in text(listing)
    assert "WIDGET-A" in text(detail) and "GADGET-B" in text(detail)
    assert not COMMAND_FORM.search(text(detail))
    assert post_forms(listing) == post_forms(detail) == ["/accounts/logout/"]


@pytest.mark.parametrize(
    "action, data",
    [
        ("place", {"customer_id": "c1", "sku_0": "NEW-1", "quantity_0": 1, "price_cents_0": 100}),
        ("add", {"version": 1, "sku": "NEW-1", "quantity": 1, "price_cents": 100}),
        ("remove", {"version": 1, "sku": "GADGET-B"}),
        ("ship", {"version": 1, "carrier": "DHL"}),
        ("cancel", {"version": 1, "reason": "not allowed"}),
    ],
)
def test_a_reader_without_the_managers_group_gets_403_on_every_command(reader, action, data):
    order = place(lines=(WIDGET, GADGET))
    path = "/orders/" if action == "place" else f"/orders/{order.order_id}/{action}"

    response = login(reader).post(path, data)

    assert response.status_code == 403
    assert event_count() == 1


@pytest.mark.parametrize("who", ["reader", "manager"])
@pytest.mark.parametrize("path", ["/audit/", "/projections/"])
def test_non_staff_users_are_sent_to_the_admin_login_for_staff_pages(request, who, path):
    response = login(request.getfixturevalue(who)).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


def held_failure(name="daily_sales") -> ProjectionFailure:
    now = timezone.now()
    return ProjectionFailure.objects.create(
        projection=name,
        position=7,
        tx_id=1,
        event_type="OrderPlaced",
        aggregate_id=uuid.uuid4(),
        error="ValueError: boom",
        traceback="Traceback ...",
        attempts=failures.MAX_ATTEMPTS,
        first_failed_at=now,
        last_failed_at=now,
    )


@pytest.mark.parametrize("who", [None, "reader", "manager"])
def test_only_staff_may_retry_a_projection(request, who):
    failure = held_failure()
    user = request.getfixturevalue(who) if who else None

    response = login(user).post("/projections/daily_sales/retry")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    failure.refresh_from_db()
    assert failure.resolved_at is None


def test_staff_can_reach_the_audit_and_projection_pages(staff):
    client = login(staff)

    assert client.get("/audit/").status_code == 200
    assert client.get("/projections/").status_code == 200
    assert client.get("/dashboard/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused_and_appends_nothing(manager):
    order = place()
    client = login(manager, enforce_csrf_checks=True)
    form = {"customer_id": "cust_csrf", "sku_0": "NEW-1", "quantity_0": 1, "price_cents_0": 100}

    assert client.post("/orders/", form).status_code == 403
    assert client.post(f"/orders/{order.order_id}/cancel", {"version": 1, "reason": "x"}).status_code == 403
    assert event_count() == 1

    # The same form with the page's token goes through: it was the token that was missing.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(client.get("/orders/"))).group(1)
    assert client.post("/orders/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    assert event_count() == 2


def test_a_projection_retry_without_the_csrf_token_is_refused(staff):
    failure = held_failure()

    response = login(staff, enforce_csrf_checks=True).post("/projections/daily_sales/retry")

    assert response.status_code == 403
    failure.refresh_from_db()
    assert failure.resolved_at is None


# == the order list =====================================================================


@committed
def test_list_filters_select_the_matching_orders_and_count_them(reader):
    a = str(place("cust_a", [("A-1", 1, 1999)], at=D1).order_id)
    b = str(place("cust_a", [("B-1", 1, 2000)], at=D2).order_id)
    run(commands.ShipOrder(uuid.UUID(b), "DHL"), at=D2 + timedelta(hours=1))
    c = str(place("cust_b", [("C-1", 2, 2500)], at=D3).order_id)
    run(commands.CancelOrder(uuid.UUID(c), "changed mind"), at=D3 + timedelta(hours=1))
    d = str(place("cust_b", [("D-1", 1, 1998)], at=D2 + timedelta(minutes=5)).order_id)
    settle()
    client = login(reader)
    cases = [
        ({}, [c, d, b, a]),  # newest first
        ({"status": "shipped"}, [b]),
        ({"status": "cancelled"}, [c]),
        ({"status": "placed"}, [d, a]),
        ({"customer_id": "cust_a"}, [b, a]),
        ({"customer_id": "cust_b", "status": "placed"}, [d]),
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
def test_list_dates_are_days_in_the_users_time_zone(reader):
    late_evening_utc = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)  # 00:30 on the 11th in Berlin
    order = place(at=late_evening_utc).order_id
    settle()
    client = login(reader)
    client.cookies["tz"] = "Europe/Berlin"

    assert listed_ids(client.get("/orders/", {"placed_from": "2025-03-11"})) == [str(order)]
    assert listed_ids(client.get("/orders/", {"placed_to": "2025-03-10"})) == []


@committed
def test_sorting_links_switch_between_placed_and_total_orderings(reader):
    first = str(place(lines=[("X", 1, 4000)], at=D1).order_id)
    second = str(place(lines=[("X", 1, 500)], at=D2).order_id)
    third = str(place(lines=[("X", 1, 1999)], at=D3).order_id)
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
        str(place("cust_page", [("X", 1, 100 + i % 7)], at=times[i % 3]).order_id)  # many ties
        for i in range(55)
    }
    place("cust_other")
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
def test_search_jumps_to_an_order_by_full_id_or_a_prefix(reader):
    order = str(place().order_id)
    settle()
    client = login(reader)

    for query in (order, order.upper(), f"  {order}  ", order[:8], order[:13]):
        response = client.get("/orders/", {"q": query})
        assert response.status_code == 302, query
        assert response["Location"] == f"/orders/{order}/"


@committed
def test_search_for_an_unknown_or_ambiguous_prefix_shows_a_message(reader):
    place(order_id=uuid.UUID("abcdef01-1111-4000-8000-000000000001"))
    place(order_id=uuid.UUID("abcdef01-2222-4000-8000-000000000002"))
    settle()
    client = login(reader)

    for query in ("12345678", "abcdef01", "not-an-id"):
        response = client.get("/orders/", {"q": query})
        assert response.status_code == 200, query
        assert f"No order found for “{query}”." in messages_shown(response)
        assert len(listed_ids(response)) == 2  # the list is still shown

    too_short = client.get("/orders/", {"q": "abcdef0"})
    assert "at least its first 8 characters" in messages_shown(too_short)
    assert len(listed_ids(too_short)) == 2

    unique = client.get("/orders/", {"q": "ABCDEF01-2"})  # nine characters tell them apart
    assert unique["Location"] == "/orders/abcdef01-2222-4000-8000-000000000002/"


@committed
def test_search_for_an_unknown_full_id_shows_a_message(reader):
    place()
    settle()
    unknown = str(uuid.uuid4())

    response = login(reader).get("/orders/", {"q": unknown})

    assert response.status_code == 200
    assert f"No order found for “{unknown}”." in messages_shown(response)


@pytest.mark.parametrize(
    "params, error",
    [
        ({"placed_from": "2025-13-45"}, "Placed from: Enter a valid date."),
        ({"placed_to": "yesterday"}, "Placed to: Enter a valid date."),
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
    order = str(place().order_id)
    settle()
    client = login(reader)
    cases = [
        {"cursor": "garbage!!"},
        {"cursor": "eyJub3QiOiAiYSBsaXN0In0"},  # {"not": "a list"}
        {"cursor": cursor_of("2025-03-10T12:00:00+00:00", uuid.uuid4()), "ordering": "total"},
        {"cursor": cursor_of(1999, uuid.uuid4()), "ordering": "placed_at"},
        {"cursor": cursor_of("2025-03-10T12:00:00", uuid.uuid4())},  # naive time
        {"cursor": cursor_of(100, "not-a-uuid"), "ordering": "total"},
        {"cursor": cursor_of(100, uuid.uuid4(), "sideways"), "ordering": "total"},
        {"cursor": cursor_of(True, uuid.uuid4()), "ordering": "total"},
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
        {"cursor": cursor_of(2**64 - 1, uuid.uuid4()), "ordering": "-total"},
        {"cursor": cursor_of("0001-01-01T00:00:00+14:00", uuid.uuid4(), "p")},
        {"cursor": cursor_of("9999-12-31T23:59:59-12:00", uuid.uuid4())},
    ],
)
def test_extreme_but_well_formed_list_parameters_never_give_a_500(reader, params):
    response = login(reader).get("/orders/", params)

    assert response.status_code in (200, 400)
    assert "No orders match." in text(response) or response.status_code == 400


# == placing an order ===================================================================


def test_placing_an_order_redirects_to_its_page_and_ignores_blank_lines(manager):
    form = {
        "customer_id": "cust_form",
        "sku_0": "WIDGET-A",
        "quantity_0": "2",
        "price_cents_0": "1999",
        "sku_2": "GADGET-B",
        "quantity_2": "1",
        "price_cents_2": "500",
        "sku_4": "",
        "quantity_4": "",
        "price_cents_4": "",
    }

    response = login(manager).post("/orders/", form)

    assert response.status_code == 302
    (event,) = Event.objects.all()
    assert response["Location"] == f"/orders/{event.aggregate_id}/?after={event.position}"
    assert event.event_type == "OrderPlaced"
    assert event.event_data["customer_id"] == "cust_form"
    assert [(i["sku"], i["quantity"], i["price_cents"]) for i in event.event_data["items"]] == [
        ("WIDGET-A", 2, 1999),
        ("GADGET-B", 1, 500),
    ]
    assert event.metadata["user_id"] == str(manager.pk)


@committed
def test_placed_order_page_greets_with_a_message(manager, settings):
    settings.PROJECTIONS_MODE = "inprocess"
    client = login(manager)

    response = client.post(
        "/orders/",
        {"customer_id": "cust_form", "sku_0": "WIDGET-A", "quantity_0": "2", "price_cents_0": "1999"},
    )
    settle()
    page = client.get(response["Location"])

    assert page.status_code == 200
    assert "Order placed." in messages_shown(page)
    assert 'id="order-total">39.98<' in text(page)


def test_a_line_with_only_a_sku_is_a_form_error_and_keeps_what_was_typed(manager):
    form = {
        "customer_id": "cust_keep",
        "sku_0": "WIDGET-A",
        "quantity_0": "2",
        "price_cents_0": "1999",
        "sku_1": "ONLY-SKU",
    }

    response = login(manager).post("/orders/", form)

    assert response.status_code == 400
    body = text(response)
    assert "Line 2 needs a SKU, a quantity and a price." in body
    assert 'value="cust_keep"' in body
    assert 'name="sku_0" id="place-sku_0" aria-label="SKU, line 1" value="WIDGET-A"' in body
    assert (
        'name="price_cents_0" id="place-price_cents_0" aria-label="Price in cents, line 1" value="1999"'
        in body
    )
    assert 'value="ONLY-SKU"' in body
    assert event_count() == 0


def test_an_order_without_lines_is_refused(manager):
    response = login(manager).post("/orders/", {"customer_id": "cust_empty"})

    assert response.status_code == 400
    assert "An order needs at least one line." in text(response)
    assert 'value="cust_empty"' in text(response)
    assert event_count() == 0


def test_an_order_the_rules_refuse_shows_the_rule_and_appends_nothing(manager):
    form = {
        "customer_id": "cust_rule",
        "sku_0": "SAME",
        "quantity_0": "1",
        "price_cents_0": "100",
        "sku_1": "SAME",
        "quantity_1": "1",
        "price_cents_1": "200",
    }

    response = login(manager).post("/orders/", form)

    assert response.status_code == 400
    assert "SKU SAME appears twice with different prices" in text(response)
    assert event_count() == 0


# == the order page =====================================================================


@committed
def test_order_page_shows_lines_money_and_the_whole_timeline_with_usernames(manager, other):
    order = place(lines=(WIDGET, ("BIG-1", 10, 99999)), user=manager).order_id
    run(commands.AddItem(order, "GADGET-B", 1, 500), user=other)
    run(commands.RemoveItem(order, "GADGET-B"), user=manager)
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert response.status_code == 200
    body = text(response)
    assert (
        '<td class="mono">WIDGET-A</td><td class="num">2</td>'
        '<td class="num">19.99</td><td class="num">39.98</td>' in body
    )
    assert (
        '<td class="mono">BIG-1</td><td class="num">10</td>'
        '<td class="num">999.99</td><td class="num">9,999.90</td>' in body
    )
    assert '<td class="mono">GADGET-B</td>' not in body
    assert 'id="order-total">10,039.88<' in body
    assert timeline(response) == [("OrderPlaced", 1), ("ItemAdded", 2), ("ItemRemoved", 3)]
    assert "Added 1 \u00d7 GADGET-B at 5.00" in body
    assert body.count("by manager ·") == 2 and body.count("by other ·") == 1


@committed
def test_the_command_forms_carry_the_current_version(manager):
    order = place(lines=(WIDGET, GADGET)).order_id
    run(commands.AddItem(order, "EXTRA-1", 1, 100))
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert set(COMMAND_FORM.findall(text(response))) == {"add", "remove", "ship", "cancel"}
    versions = version_inputs(response)
    assert len(versions) == 6  # ship, cancel, add and one remove per line
    assert set(versions) == {2}


@committed
@pytest.mark.parametrize("close", ["ship", "cancel"])
def test_closed_orders_have_no_command_forms(manager, close):
    order = place(lines=(WIDGET, GADGET)).order_id
    run(commands.ShipOrder(order) if close == "ship" else commands.CancelOrder(order, "gone"))
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert response.status_code == 200
    assert not COMMAND_FORM.search(text(response))
    assert f'id="order-status">{"shipped" if close == "ship" else "cancelled"}<' in text(response)


@committed
def test_as_of_replays_the_order_at_that_moment(reader):
    t0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
    order = place(lines=(WIDGET,), at=t0).order_id
    run(commands.AddItem(order, "GADGET-B", 1, 500), at=t0 + timedelta(hours=1))
    run(commands.ShipOrder(order, "DHL"), at=t0 + timedelta(hours=2))
    settle()
    client = login(reader)

    def as_of(value) -> tuple[str, str]:
        """The replay's one-line summary, and the SKUs of the replayed lines."""
        response = client.get(f"/orders/{order}/", {"as_of": value})
        assert response.status_code == 200, value
        section = text(response).split('id="as-of-result"', 1)[1].split("</section>", 1)[0]
        words = " ".join(re.sub(r"<[^>]+>", "", section.split(">", 1)[1]).split())
        summary = re.match(r".*?(version \d+|yet)\.", words).group(0)
        return summary, " ".join(re.findall(r'<td class="mono">([^<]+)</td>', section))

    assert as_of("2025-03-10T10:30:00Z") == (
        "At 2025-03-10 10:30:00 UTC, after 1 event: placed, total 39.98, version 1.",
        "WIDGET-A",
    )
    assert as_of("2025-03-10T11:30") == (  # no offset: the user's time zone (UTC here)
        "At 2025-03-10 11:30:00 UTC, after 2 events: placed, total 44.98, version 2.",
        "WIDGET-A GADGET-B",
    )
    assert as_of("2025-03-10T14:30:00+02:00") == (  # 12:30 UTC
        "At 2025-03-10 12:30:00 UTC, after 3 events: shipped, total 44.98, version 3.",
        "WIDGET-A GADGET-B",
    )
    assert as_of("2025-03-10T09:59:59") == (
        "At 2025-03-10 09:59:59 UTC this order had not been placed yet.",
        "",
    )


@pytest.mark.parametrize("value", ["garbage", "2025-02-30T10:00", "x" * 5000])
def test_a_garbage_as_of_shows_a_message(reader, value):
    order = place().order_id

    response = login(reader).get(f"/orders/{order}/", {"as_of": value})

    assert response.status_code == 200
    assert "“As of” needs a date and time." in messages_shown(response)
    assert 'id="as-of-result"' not in text(response)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_as_of_at_the_edge_of_the_calendar_does_not_give_a_500(reader, value):
    order = place().order_id

    response = login(reader).get(f"/orders/{order}/", {"as_of": value})

    assert response.status_code == 200


def test_an_unknown_order_is_404(reader):
    client = login(reader)
    inventory_stream = run(commands.ReceiveStock("WIDGET-A", 5)).order_id  # exists, but not an order

    assert client.get(f"/orders/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/orders/{inventory_stream}/").status_code == 404
    assert client.get("/orders/not-a-uuid/").status_code == 404


# == commands through the forms =========================================================


@pytest.mark.parametrize(
    "action, data, event_type, event_data",
    [
        (
            "add",
            {"sku": "NEW-1", "quantity": "3", "price_cents": "250"},
            "ItemAdded",
            {"sku": "NEW-1", "quantity": 3, "price_cents": 250, "order_total_cents": 4498 + 750},
        ),
        (
            "remove",
            {"sku": "GADGET-B"},
            "ItemRemoved",
            {"sku": "GADGET-B", "quantity": 1, "price_cents": 500, "order_total_cents": 3998},
        ),
        (
            "ship",
            {"carrier": "DHL", "tracking_number": "JD0001"},
            "OrderShipped",
            {"carrier": "DHL", "tracking_number": "JD0001"},
        ),
        (
            "cancel",
            {"reason": "customer changed mind"},
            "OrderCancelled",
            {"reason": "customer changed mind"},
        ),
    ],
)
def test_each_command_form_appends_one_event_and_redirects(manager, action, data, event_type, event_data):
    order = place(lines=(WIDGET, GADGET)).order_id

    response = login(manager).post(f"/orders/{order}/{action}", {"version": "1", **data})

    assert response.status_code == 302
    history = events_of(order)
    assert len(history) == 2 and event_count() == 2
    event = history[-1]
    assert response["Location"] == f"/orders/{order}/?after={event.position}"
    assert (event.event_type, event.version) == (event_type, 2)
    assert {k: event.data.get(k) for k in event_data} == event_data
    assert event.metadata["user_id"] == str(manager.pk)


@committed
def test_after_a_command_the_page_shows_its_result_and_a_message(manager):
    order = place(lines=(WIDGET, GADGET)).order_id
    client = login(manager)

    response = client.post(f"/orders/{order}/ship", {"version": "1", "carrier": "UPS"})
    settle()
    page = client.get(response["Location"])

    assert page.status_code == 200
    assert "Order shipped." in messages_shown(page)
    assert 'id="order-status">shipped<' in text(page)
    assert "via UPS" in text(page)


@committed
@pytest.mark.parametrize(
    "action, data, kept",
    [
        ("ship", {"carrier": "DHL", "tracking_number": "JD0001"}, ['value="DHL"', 'value="JD0001"']),
        ("cancel", {"reason": "too slow"}, ['value="too slow"']),
        ("add", {"sku": "NEW-1", "quantity": "4", "price_cents": "250"}, ['value="NEW-1"', 'value="250"']),
        ("remove", {"sku": "WIDGET-A"}, []),
    ],
)
def test_a_stale_version_gets_409_with_what_changed_and_appends_nothing(manager, other, action, data, kept):
    order = place(lines=(WIDGET, GADGET), user=manager).order_id
    run(commands.AddItem(order, "EXTRA-9", 1, 300), user=other)  # after the page was opened at v1
    settle()
    client = login(manager)

    response = client.post(f"/orders/{order}/{action}", {"version": "1", **data})

    assert response.status_code == 409
    assert event_count() == 2
    conflict = re.search(
        r'<div class="alert warning" role="alert" id="conflict">(.*?)</div>', text(response), re.S
    )
    assert conflict is not None
    assert f"nothing was changed by your {action}" in conflict.group(1)
    assert "Added 1 \u00d7 EXTRA-9 at 3.00 (by other)" in conflict.group(1)
    for value in kept:
        assert value in text(response)
    assert set(version_inputs(response)) == {2}  # the forms now carry the version seen

    # Submitting again on the version now shown goes through.
    assert client.post(f"/orders/{order}/{action}", {"version": "2", **data}).status_code == 302
    assert event_count() == 3


@committed
def test_adding_a_sku_at_another_price_is_409_with_the_rule_and_the_typed_values(manager):
    order = place(lines=(WIDGET, GADGET)).order_id
    settle()

    response = login(manager).post(
        f"/orders/{order}/add", {"version": "1", "sku": "WIDGET-A", "quantity": "3", "price_cents": "2500"}
    )

    assert response.status_code == 409
    body = text(response)
    assert re.search(r'id="add-error">SKU WIDGET-A is on the order at 1999 cents, not 2500<', body)
    assert 'id="add-sku" name="sku" required maxlength="40" value="WIDGET-A"' in body
    assert 'name="quantity" type="number" min="1" max="10000" required value="3"' in body
    assert 'name="price_cents" type="number" min="0" max="10000000" required value="2500"' in body
    assert event_count() == 1


@committed
def test_removing_the_last_line_is_409_with_the_rule(manager):
    order = place(lines=(WIDGET,)).order_id
    settle()

    response = login(manager).post(f"/orders/{order}/remove", {"version": "1", "sku": "WIDGET-A"})

    assert response.status_code == 409
    assert (
        '<div class="alert error" role="alert">'
        "the last line cannot be removed; cancel the order instead</div>" in text(response)
    )
    assert event_count() == 1


@committed
def test_changing_a_shipped_order_is_409_with_the_rule_and_the_typed_reason(manager):
    order = place(lines=(WIDGET,)).order_id
    run(commands.ShipOrder(order))
    settle()

    response = login(manager).post(f"/orders/{order}/cancel", {"version": "2", "reason": "too late"})

    assert response.status_code == 409
    assert re.search(
        r'id="cancel-error">order [0-9a-f-]{36} has shipped; it cannot change any more<', text(response)
    )
    assert 'id="again-reason" value="too late"' in text(response)  # kept, in a disabled form
    assert "Cancel order anyway" not in text(response)
    assert not re.search(r'action="/orders/[0-9a-f-]{36}/(add|remove|ship)"', text(response))
    assert event_count() == 2


@committed
def test_invalid_command_input_is_a_400_form_error(manager):
    order = place(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)
    cases = [
        (
            "add",
            {"sku": "NEW-1", "quantity": "0", "price_cents": "1"},
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            "add",
            {"sku": "NEW-1", "quantity": "10001", "price_cents": "1"},
            "Ensure this value is less than or equal to 10000.",
        ),
        ("add", {"sku": "bad sku!", "quantity": "1", "price_cents": "100"}, "Letters, digits, &#x27;-&#x27;"),
        (
            "add",
            {"sku": "NEW-1", "quantity": "1", "price_cents": "-5"},
            "Ensure this value is greater than or equal to 0.",
        ),
        ("add", {"sku": "NEW-1", "quantity": "many", "price_cents": "5"}, "Enter a whole number."),
        ("cancel", {"reason": "   "}, "This field is required."),
    ]
    for action, data, error in cases:
        response = client.post(f"/orders/{order}/{action}", {"version": "1", **data})
        assert response.status_code == 400, data
        assert f'<div class="errorlist">{error}' in text(response), data
        if action == "add":  # what was typed is kept
            assert f'value="{html.escape(data["sku"])}"' in text(response)
    assert event_count() == 1


def test_a_command_without_a_version_is_a_400(manager):
    order = place(lines=(WIDGET, GADGET)).order_id

    response = login(manager).post(f"/orders/{order}/ship", {"carrier": "DHL"})

    assert response.status_code == 400
    assert event_count() == 1


def test_an_unknown_action_or_order_is_404(manager):
    order = place(lines=(WIDGET, GADGET)).order_id
    client = login(manager)

    assert client.post(f"/orders/{order}/explode", {"version": "1"}).status_code == 404
    assert client.post(f"/orders/{uuid.uuid4()}/cancel", {"version": "0", "reason": "x"}).status_code == 404
    assert client.post(f"/orders/{uuid.uuid4()}/cancel", {"version": "3", "reason": "x"}).status_code == 404
    assert client.get(f"/orders/{order}/cancel").status_code == 405
    assert event_count() == 1


# == the audit trail ====================================================================


@pytest.fixture
def audit_history(manager, other):
    o1 = place("cust_1", user=manager, at=D1, correlation="trace-1").order_id
    run(commands.AddItem(o1, "GADGET-B", 1, 500), user=manager, at=D2, correlation="trace-1")
    o2 = place("cust_2", user=other, at=D2 + timedelta(hours=1), correlation="trace-2").order_id
    run(commands.ShipOrder(o2, "DHL"), user=other, at=D3, correlation="trace-2")
    stock = run(commands.ReceiveStock("WIDGET-A", 10), at=D3 + timedelta(hours=1), correlation="trace-3")
    return {"o1": o1, "o2": o2, "stock": stock.aggregate_id}


def positions(**filters) -> list[int]:
    return list(Event.objects.filter(**filters).order_by("-position").values_list("position", flat=True))


def test_audit_lists_every_event_newest_first(staff, audit_history):
    response = login(staff).get("/audit/")

    assert response.status_code == 200
    assert audit_positions(response) == positions()
    assert len(audit_positions(response)) == 5
    assert text(response).count("<td>manager</td>") == 2  # usernames, not user ids
    assert text(response).count("<td>other</td>") == 2


def test_audit_filters(staff, manager, other, audit_history):
    client = login(staff)
    o1, o2 = audit_history["o1"], audit_history["o2"]
    cases = [
        ({"aggregate_id": str(o1)}, positions(aggregate_id=o1)),
        ({"aggregate_type": "InventoryItem"}, positions(aggregate_id=audit_history["stock"])),
        ({"aggregate_type": "Order"}, positions(aggregate_type="Order")),
        ({"event_type": "OrderShipped"}, positions(aggregate_id=o2, version=2)),
        ({"user": "manager"}, positions(aggregate_id=o1)),
        ({"user": str(other.pk)}, positions(aggregate_id=o2)),
        ({"user": "nobody"}, []),
        ({"correlation_id": "trace-2"}, positions(aggregate_id=o2)),
        (
            {"since": "2025-03-11T00:00", "until": "2025-03-11T23:59:59"},
            positions(created_at__date=D2.date()),
        ),
        ({"since": "2025-03-12T00:00"}, positions(created_at__gte=D3.replace(hour=0))),
        ({"user": "manager", "event_type": "ItemAdded"}, positions(aggregate_id=o1, version=2)),
    ]
    for params, expected in cases:
        response = client.get("/audit/", params)
        assert response.status_code == 200, params
        assert audit_positions(response) == expected, params
        assert expected or "No events match." in text(response)


def test_audit_trace_heading_names_the_correlation_id(staff, audit_history):
    response = login(staff).get("/audit/", {"correlation_id": "trace-1"})

    assert 'id="trace-heading"' in text(response)
    assert '<span class="mono">trace-1</span>' in text(response)
    assert len(audit_positions(response)) == 2


def test_audit_pages_back_through_older_events(staff):
    for i in range(53):
        place(f"cust_{i}")
    run(commands.ReceiveStock("WIDGET-A", 10))
    client = login(staff)

    first = client.get("/audit/", {"aggregate_type": "Order"})
    assert audit_positions(first) == positions(aggregate_type="Order")[:50]
    older = link(first, "next")
    assert older.startswith("?aggregate_type=Order&before=")

    second = client.get("/audit/" + older)
    assert audit_positions(second) == positions(aggregate_type="Order")[50:]
    assert link(second, "next") is None
    assert '<a href="?aggregate_type=Order">← Newest</a>' in text(second)


@pytest.mark.parametrize(
    "params, error",
    [
        ({"aggregate_id": "not-a-uuid"}, "Enter a valid UUID."),
        ({"since": "2025-13-01T00:00"}, "Enter a valid date/time."),
        ({"until": "tomorrow"}, "Enter a valid date/time."),
        ({"aggregate_type": "t" * 101}, "Ensure this value has at most 100 characters"),
        ({"event_type": "e" * 5000}, "Ensure this value has at most 100 characters"),
        ({"user": "u" * 151}, "Ensure this value has at most 150 characters"),
        ({"correlation_id": "c" * 129}, "Ensure this value has at most 128 characters"),
        ({"user": "a\x00b"}, "Null characters are not allowed."),
    ],
)
def test_bad_audit_filters_answer_400_with_the_error(staff, params, error):
    place()

    response = login(staff).get("/audit/", params)

    assert response.status_code == 400
    assert f'<div class="errorlist">{error}' in text(response)
    assert audit_positions(response) == []
    assert 'id="trace-heading"' not in text(response)


@pytest.mark.parametrize("before", ["0", "-3", "abc"])
def test_a_bad_page_position_in_the_audit_answers_400(staff, before):
    place()

    response = login(staff).get("/audit/", {"before": before})

    assert response.status_code == 400
    assert audit_positions(response) == []


@pytest.mark.parametrize(
    "params",
    [{"before": "9" * 30}, {"since": "0001-01-01T00:00"}, {"until": "9999-12-31T23:59"}, {"user": "¹²"}],
)
def test_extreme_audit_filters_never_give_a_500(staff, params):
    place()

    response = login(staff).get("/audit/", params)

    assert response.status_code in (200, 400)


def test_the_audit_page_offers_no_way_to_change_events(staff, audit_history):
    before = list(Event.objects.order_by("position").values_list("position", "event_data", "metadata"))

    response = login(staff).get("/audit/")

    assert post_forms(response) == ["/accounts/logout/"]  # only signing out posts
    assert login(staff).post("/audit/").status_code in (200, 405)
    assert (
        list(Event.objects.order_by("position").values_list("position", "event_data", "metadata")) == before
    )


# == the dashboard and the projection status ============================================


@committed
def test_dashboard_embeds_the_series_and_consistent_totals(reader):
    now = timezone.now()
    a = place("cust_a", lines=(WIDGET, GADGET)).order_id  # 44.98, shipped today
    run(commands.ShipOrder(a))
    b = place("cust_a", lines=[("B-1", 1, 1000)]).order_id  # cancelled today
    run(commands.CancelOrder(b, "no"))
    place("cust_b", lines=[("C-1", 1, 2500)])  # open
    d = place("cust_b", lines=[("D-1", 1, 700)], at=now - timedelta(days=3)).order_id
    run(commands.ShipOrder(d), at=now - timedelta(days=2))
    place("cust_c", lines=[("E-1", 1, 999)], at=now - timedelta(days=70))  # outside the 60 days, open
    settle()

    response = login(reader).get("/dashboard/")

    assert response.status_code == 200
    series = json_script(response, "series-data")
    assert len(series) == 60
    assert series[-1]["day"] == now.date().isoformat()
    by_day = {s["day"]: s for s in series}
    today = by_day[now.date().isoformat()]
    assert (today["placed"], today["shipped"], today["cancelled"], today["revenue_cents"]) == (3, 1, 1, 4498)
    assert today["booked_cents"] == 4498 + 1000 + 2500
    assert by_day[(now - timedelta(days=3)).date().isoformat()]["placed"] == 1
    assert by_day[(now - timedelta(days=2)).date().isoformat()]["revenue_cents"] == 700
    assert sum(s["placed"] for s in series) == 4
    assert json_script(response, "status-data") == {"placed": 2, "shipped": 2, "cancelled": 1}
    stats = re.findall(r'<div class="stat">([^<]*)</div>', text(response))
    assert stats == ["4", "51.98", "1", "2"]


def test_projection_status_page_and_its_htmx_partial(staff):
    client = login(staff)

    page = client.get("/projections/")
    partial = client.get("/projections/", headers={"HX-Request": "true"})

    assert page.status_code == partial.status_code == 200
    assert "<h1>Projections</h1>" in text(page) and "<html" in text(page)
    body = text(partial).strip()
    assert body.startswith('<div id="projection-status"') and body.endswith("</div>")
    assert "<html" not in body and "<h1>" not in body
    for name in registry.followers:
        assert f"<strong>{name}</strong>" in body
    assert body.count('<span class="badge running">running</span>') >= len(READ_MODELS)


def test_retry_releases_a_held_projection(staff):
    failure = held_failure("daily_sales")
    client = login(staff)
    held = text(client.get("/projections/", headers={"HX-Request": "true"}))
    row = held.split("<strong>daily_sales</strong>", 1)[1].split("</tr>", 2)
    assert '<span class="badge held">held</span>' in row[0]
    assert "Failed at position 7" in row[1] and "ValueError: boom" in row[1]

    response = client.post("/projections/daily_sales/retry")

    assert response.status_code == 302
    assert response["Location"] == "/projections/"
    failure.refresh_from_db()
    assert failure.resolved_at is not None
    assert (failure.resolution, failure.resolved_by) == ("retried", "boss")
    page = client.get("/projections/")
    assert "daily_sales will retry the event at position 7." in messages_shown(page)
    after = text(page).split("<strong>daily_sales</strong>", 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge running">running</span>' in after
    assert "Failed at position 7" not in text(page)


def test_retry_of_a_projection_that_is_not_held_or_unknown(staff):
    client = login(staff)

    response = client.post("/projections/order_list/retry", follow=True)
    assert response.status_code == 200
    assert "order_list is not held; nothing to retry." in messages_shown(response)
    assert client.post("/projections/nope/retry").status_code == 404
    assert client.get("/projections/order_list/retry").status_code == 405

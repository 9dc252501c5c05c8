"""The audit trail (staff only): every event newest first, its filters, a
correlation id's trace, paging back, bad filters, and no way to change an
event."""

import html
import uuid
from datetime import timedelta

import pytest

from eventstore.models import Event
from orders import commands
from orders.domain.customer import customer_stream_id
from orders.domain.product import product_id
from tests.integration.web.pages import D1, D2, D3, audit_positions, committed, link, post_forms, text
from tests.support import (
    GADGET,
    WIDGET,
    ApiClient,
    counted,
    login,
    place_order,
    run_command,
    settle,
    stock_catalogue,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def audit_history(manager, other):
    stock_catalogue([WIDGET, GADGET])  # two catalogue events, before D1: the orders are priced from it
    o1 = place_order("cust_1", user=manager, at=D1, correlation="trace-1").order_id
    run_command(commands.AddItem(o1, "GADGET-B", 1, 500), user=manager, at=D2, correlation="trace-1")
    o2 = place_order("cust_2", user=other, at=D2 + timedelta(hours=1), correlation="trace-2").order_id
    run_command(commands.ShipOrder(o2, "DHL"), user=other, at=D3, correlation="trace-2")
    stock = run_command(
        commands.ReceiveStock("WIDGET-A", 10), at=D3 + timedelta(hours=1), correlation="trace-3"
    )
    return {"o1": o1, "o2": o2, "stock": stock.aggregate_id}


def positions(**filters) -> list[int]:
    return list(Event.objects.filter(**filters).order_by("-position").values_list("position", flat=True))


def test_audit_lists_every_event_newest_first(staff, audit_history):
    response = login(staff).get("/audit/")

    assert response.status_code == 200
    assert audit_positions(response) == positions()
    assert len(audit_positions(response)) == 7  # five of orders and stock, two of the catalogue
    assert text(response).count("<td>manager</td>") == 2  # usernames, not user ids
    assert text(response).count("<td>other</td>") == 2


def test_audit_filters_select_the_matching_events(staff, manager, other, audit_history):
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


def test_audit_type_and_user_filters_ignore_case(staff, audit_history):
    client = login(staff)
    o1, o2 = audit_history["o1"], audit_history["o2"]
    cases = [
        ({"event_type": "orderplaced"}, positions(event_type="OrderPlaced")),
        ({"event_type": " ORDERSHIPPED "}, positions(aggregate_id=o2, version=2)),
        ({"aggregate_type": "inventoryitem"}, positions(aggregate_id=audit_history["stock"])),
        ({"aggregate_type": "ORDER"}, positions(aggregate_type="Order")),
        ({"user": "MANAGER"}, positions(aggregate_id=o1)),
    ]
    for params, expected in cases:
        response = client.get("/audit/", params)
        assert response.status_code == 200, params
        assert audit_positions(response) == expected, params


def test_audit_finds_a_stream_by_the_start_of_its_id_as_the_table_shows_it(staff, audit_history):
    client = login(staff)
    o1 = str(audit_history["o1"])
    shown = client.get("/audit/", {"aggregate_type": "Order"})
    assert f'<a class="mono" href="/orders/{o1}/">{o1[:8]}</a>' in text(shown)

    for prefix in (o1[:8], o1[:8].upper(), o1[:13], o1):
        response = client.get("/audit/", {"aggregate_id": prefix})
        assert response.status_code == 200, prefix
        assert audit_positions(response) == positions(aggregate_id=o1), prefix

    too_short = client.get("/audit/", {"aggregate_id": o1[:7]})
    assert audit_positions(too_short) == []
    assert "an id needs at least its first 8 characters" in html.unescape(text(too_short))


def test_audit_shows_and_finds_inventory_streams_by_their_sku(staff, audit_history):
    stock = audit_history["stock"]
    client = login(staff)

    response = client.get("/audit/", {"aggregate_type": "InventoryItem"})

    assert '<span class="mono stream-label" title="' + str(stock) + '">WIDGET-A</span>' in text(response)
    assert str(stock)[:8] + "</span>" not in text(response)  # not the UUID
    for typed in ("WIDGET-A", "widget-a"):  # its stock and its catalogue entry
        assert audit_positions(client.get("/audit/", {"aggregate_id": typed})) == positions(
            aggregate_id__in=[stock, product_id("WIDGET-A")]
        )


@committed
def test_a_customer_id_finds_the_customer_s_orders_and_erasures(staff, audit_history):
    settle()  # the order list knows whose orders they are
    assert ApiClient(staff).post("/api/customers/cust_1/forget").status_code == 200
    client = login(staff)

    found = client.get("/audit/", {"aggregate_id": "cust_1"})

    assert audit_positions(found) == positions(
        aggregate_id__in=[audit_history["o1"], customer_stream_id("cust_1")]
    )
    assert audit_positions(client.get("/audit/", {"aggregate_id": "cust_nobody"})) == []
    assert audit_positions(client.get("/audit/", {"aggregate_id": "shop.b:2"})) == []  # a valid id, no one


def test_any_stream_whose_first_event_names_a_sku_is_shown_by_it(staff, store):
    """Ready for catalogue products: nothing order- or inventory-specific."""
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted("PART-9"), counted("OTHER-1")], expected_version=0)
    client = login(staff)

    response = client.get("/audit/", {"aggregate_type": "shelf"})  # an unregistered type, any case

    assert audit_positions(response) == positions(aggregate_id=shelf)
    assert text(response).count('class="mono stream-label"') == 2
    assert text(response).count(">PART-9</span>") == 2  # the stream's name, from its first event
    assert audit_positions(client.get("/audit/", {"aggregate_id": "PART-9"})) == positions(aggregate_id=shelf)


def test_audit_trace_heading_names_the_correlation_id(staff, audit_history):
    response = login(staff).get("/audit/", {"correlation_id": "trace-1"})

    assert 'id="trace-heading"' in text(response)
    assert '<span class="mono">trace-1</span>' in text(response)
    assert len(audit_positions(response)) == 2


def test_audit_pages_back_through_older_events(staff):
    for i in range(53):
        place_order(f"cust_{i}")
    run_command(commands.ReceiveStock("WIDGET-A", 10))
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
        ({"aggregate_id": "not a uuid!"}, "An id (or its first 8 characters), a SKU or a customer id"),
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
    place_order()

    response = login(staff).get("/audit/", params)

    assert response.status_code == 400
    assert f'<div class="errorlist">{error}' in text(response)
    assert audit_positions(response) == []
    assert 'id="trace-heading"' not in text(response)


@pytest.mark.parametrize("before", ["0", "-3", "abc"])
def test_a_bad_page_position_in_the_audit_answers_400(staff, before):
    place_order()

    response = login(staff).get("/audit/", {"before": before})

    assert response.status_code == 400
    assert audit_positions(response) == []


@pytest.mark.parametrize(
    "params",
    [{"before": "9" * 30}, {"since": "0001-01-01T00:00"}, {"until": "9999-12-31T23:59"}, {"user": "¹²"}],
)
def test_extreme_audit_filters_never_give_a_500(staff, params):
    place_order()

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

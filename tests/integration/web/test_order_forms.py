"""The forms that change orders: placing one from the list page, and the
add/remove/ship/cancel forms of the order page: the event each appends,
what the page says next, and post/redirect/get when a form is refused (a
stale version: what changed; a rule; bad input): the browser is sent back
to the page, which shows the error with what was typed, and nothing is
appended."""

import html
import re
import threading
import time
import uuid

import pytest
from django.db import transaction

from eventstore import EventStore, GlobalPosition
from eventstore.models import Event
from orders import commands
from orders.domain.shipping import ShippingAddress
from tests.integration.web.pages import committed, messages_shown, refused, text, version_inputs
from tests.support import (
    GADGET,
    SHIPPING_FORM,
    WIDGET,
    event_count,
    login,
    place_order,
    run_command,
    settle,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_placing_an_order_redirects_to_its_page_and_ignores_blank_lines(manager):
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_form",
        "sku_0": "WIDGET-A",
        "quantity_0": "2",
        "sku_2": "GADGET-B",
        "quantity_2": "1",
        "sku_4": "",
        "quantity_4": "",
    }

    response = login(manager).post("/orders/", form)

    assert response.status_code == 302
    event, details = Event.objects.exclude(aggregate_type="Product").order_by("position")
    token = GlobalPosition(details.tx_id, details.position).token
    assert details.event_type == "ShippingDetailsGiven"
    assert response["Location"] == f"/orders/{event.aggregate_id}/?after={token}"
    assert event.event_type == "OrderPlaced"
    assert event.event_data["customer_id"] == "cust_form"
    assert [(i["sku"], i["quantity"], i["price_cents"]) for i in event.event_data["items"]] == [
        ("WIDGET-A", 2, 1999),  # the catalogue's prices
        ("GADGET-B", 1, 500),
    ]
    assert event.metadata["user_id"] == str(manager.pk)


@committed
def test_placed_order_page_greets_with_a_message(manager, settings):
    settings.PROJECTIONS_MODE = "inprocess"
    client = login(manager)

    response = client.post(
        "/orders/",
        {**SHIPPING_FORM, "customer_id": "cust_form", "sku_0": "WIDGET-A", "quantity_0": "2"},
    )
    settle()
    page = client.get(response["Location"])

    assert page.status_code == 200
    assert "Order placed." in messages_shown(page)
    assert 'id="order-total">€39.98<' in text(page)


def test_a_line_with_only_a_sku_is_a_form_error_and_keeps_what_was_typed(manager):
    form = {
        "customer_id": "cust_keep",
        "sku_0": "WIDGET-A",
        "quantity_0": "2",
        "sku_1": "ONLY-SKU",
    }

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    body = text(page)
    assert "Line 2 needs a quantity." in body
    assert 'value="cust_keep"' in body
    assert 'name="sku_0" id="place-sku_0" aria-label="SKU" value="WIDGET-A"' in body
    assert 'name="quantity_0" id="place-quantity_0" aria-label="Quantity" value="2"' in body
    assert 'value="ONLY-SKU"' in body
    assert event_count() == 0


def test_blank_rows_past_the_hundredth_do_not_drop_a_filled_one_and_too_many_lines_are_refused(manager):
    """A hundred blank rows and a filled one after them: the filled one is
    the order's line. More filled rows than an order may have: refused, not
    cut short."""
    blank = {f"{field}_{n}": "" for n in range(1, 101) for field in ("sku", "quantity")}
    form = {**SHIPPING_FORM, "customer_id": "cust_rows", **blank, "sku_101": "GADGET-B", "quantity_101": "5"}
    assert login(manager).post("/orders/", form).status_code == 302
    [placed] = Event.objects.filter(event_type="OrderPlaced")
    assert [(i["sku"], i["quantity"]) for i in placed.event_data["items"]] == [("GADGET-B", 5)]

    filled = {f"sku_{n}": "WIDGET-A" for n in range(101)} | {f"quantity_{n}": "1" for n in range(101)}
    before = event_count()
    page = refused(
        login(manager),
        "/orders/",
        {**SHIPPING_FORM, "customer_id": "cust_many", **filled},
        shown_at="/orders/",
    )
    assert "An order has at most 100 lines; 101 were filled in." in text(page)
    assert text(page).count('value="WIDGET-A"') == 101  # every row shown again, as typed
    assert event_count() == before


def test_an_order_without_lines_is_refused(manager):
    page = refused(
        login(manager), "/orders/", {**SHIPPING_FORM, "customer_id": "cust_empty"}, shown_at="/orders/"
    )

    assert "An order needs at least one line." in text(page)
    assert 'value="cust_empty"' in text(page)
    assert event_count() == 0


def test_an_order_the_rules_refuse_shows_the_rule_and_appends_nothing(manager):
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_rule",
        "sku_0": "WIDGET-A",
        "quantity_0": "1",
        "sku_1": "NO-SUCH",
        "quantity_1": "1",
    }

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    assert "SKU NO-SUCH is not in the catalogue." in text(page)
    assert 'value="NO-SUCH"' in text(page) and 'value="cust_rule"' in text(page)
    assert event_count() == 0


@pytest.mark.parametrize(
    "action, data, event_type, event_data",
    [
        (
            "add",
            {"sku": "NEW-1", "quantity": "3"},
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
    order = place_order(lines=(WIDGET, GADGET)).order_id
    confirmed = {"confirmed": "yes"} if action in ("remove", "cancel") else {}

    response = login(manager).post(f"/orders/{order}/{action}", {"version": "1", **data, **confirmed})

    assert response.status_code == 302
    history = EventStore().load(order)
    assert len(history) == 2 and event_count() == 2
    event = history[-1]
    assert response["Location"] == f"/orders/{order}/?after={event.global_position.token}"
    assert (event.event_type, event.version) == (event_type, 2)
    assert {k: event.data.get(k) for k in event_data} == event_data
    assert event.metadata["user_id"] == str(manager.pk)


@committed
def test_after_a_command_the_page_shows_its_result_and_a_message(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
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
        ("add", {"sku": "NEW-1", "quantity": "4"}, ['value="NEW-1"', 'value="4"']),
        ("remove", {"sku": "WIDGET-A"}, []),
        (
            "quantity",  # the line's field shows the quantity now; the banner what was asked
            {"sku": "WIDGET-A", "quantity": "5"},
            ['id="quantity-WIDGET-A" name="quantity" type="number" min="1" max="10000" required value="2"'],
        ),
    ],
)
def test_a_stale_version_shows_what_changed_and_appends_nothing(manager, other, action, data, kept):
    order = place_order(lines=(WIDGET, GADGET), user=manager).order_id
    run_command(commands.AddItem(order, "EXTRA-9", 1, 300), user=other)  # after the page was opened at v1
    settle()
    client = login(manager)
    confirmed = {"confirmed": "yes"} if action in ("remove", "cancel") else {}

    page = refused(
        client,
        f"/orders/{order}/{action}",
        {"version": "1", **data, **confirmed},
        shown_at=f"/orders/{order}/",
    )

    assert event_count() == 2
    conflict = re.search(
        r'<div class="alert warning" role="alert" id="conflict">(.*?)</div>', text(page), re.S
    )
    assert conflict is not None
    not_done = {
        "ship": "it was not shipped",
        "cancel": "it was not cancelled",
        "add": "your item was not added",
        "remove": "the line was not removed",
        "quantity": "the quantity of WIDGET-A was not changed to 5",
    }
    assert f"changed after you opened the page, so {not_done[action]}." in conflict.group(1)
    assert "Added 1 \u00d7 EXTRA-9 at €3.00 (by other)" in conflict.group(1)
    for value in kept:
        assert value in text(page)
    assert set(version_inputs(page)) == {2}  # the forms now carry the version seen

    # Submitting again on the version now shown goes through.
    assert client.post(f"/orders/{order}/{action}", {"version": "2", **data, **confirmed}).status_code == 302
    assert event_count() == 3


@committed
def test_a_form_that_asks_for_what_the_order_already_says_changes_nothing_and_says_so(manager):
    order = place_order(lines=(WIDGET,), user=manager).order_id  # 2 of WIDGET-A
    client = login(manager)
    before = event_count()

    response = client.post(f"/orders/{order}/quantity", {"version": "1", "sku": "WIDGET-A", "quantity": "2"})

    assert response.status_code == 302 and event_count() == before
    shown = messages_shown(client.get(response["Location"]))
    assert "Nothing to change: the order already says that." in shown
    assert "Quantity changed." not in shown


@committed
def test_a_stale_form_of_an_order_closed_since_says_it_cannot_change_and_asks_nothing_more(manager, other):
    order = place_order(lines=(WIDGET,), user=manager).order_id
    run_command(commands.ShipOrder(order, "DHL"), user=other)
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/add",
        {"version": "1", "sku": "GADGET-B", "quantity": "1"},
        shown_at=f"/orders/{order}/",
    )

    conflict = re.search(r'id="conflict">(.*?)</div>', text(page), re.S).group(1)
    assert "so your item was not added." in conflict and "Shipped via DHL" in conflict
    assert "It is shipped now: it cannot change any more." in conflict
    assert "submit again" not in conflict


def confirmed_meanwhile(settings, manager) -> uuid.UUID:
    """An order placed by ``manager`` (its page drawn at version 1) that the
    fulfilment process then confirms, as it does a moment after placing."""
    settings.INVENTORY_RESERVATION = True
    for sku in ("WIDGET-A", "GADGET-B"):
        run_command(commands.ReceiveStock(sku, 50))
    order = place_order(lines=(WIDGET,), user=manager).order_id
    settle()
    assert [event.event_type for event in EventStore().load(order)] == ["OrderPlaced", "OrderConfirmed"]
    return order


@committed
@pytest.mark.parametrize(
    "action, data, done",
    [
        ("note", {"text": "Gift wrap"}, "Note added."),
        ("add", {"sku": "GADGET-B", "quantity": "2"}, "Item added."),
        ("quantity", {"sku": "WIDGET-A", "quantity": "5"}, "Quantity changed."),
        ("cancel", {"reason": "customer called", "confirmed": "yes"}, "Order cancelled."),
    ],
)
def test_a_form_from_before_the_process_confirmed_the_order_still_goes_through(
    manager, settings, action, data, done
):
    order = confirmed_meanwhile(settings, manager)
    client = login(manager)

    response = client.post(f"/orders/{order}/{action}", {"version": "1", **data})

    assert response.status_code == 302, messages_shown(client.get(response["Location"]))
    assert "?after=" in response["Location"]
    history = EventStore().load(order)
    assert [event.event_type for event in history[:2]] == ["OrderPlaced", "OrderConfirmed"]
    assert len(history) == 3 and history[2].version == 3
    shown = messages_shown(client.get(response["Location"]))
    assert f"{done} (Since you opened the page: Confirmed: stock reserved for every line.)" in shown


@committed
def test_a_form_that_loses_the_race_to_append_goes_past_the_winner(manager, other, run_in_threads):
    """Another writer appends the same version while the form's INSERT waits
    on it: the form is not told the order does not exist; it goes past."""
    order = place_order(user=manager).order_id
    settle()
    client = login(manager)
    holding = threading.Event()

    def other_writer():
        with transaction.atomic():
            run_command(commands.AddNote(order, "from the phone"), user=other)
            holding.set()
            time.sleep(1.5)  # the form's INSERT of version 2 waits on this one meanwhile

    def web_form():
        holding.wait(10)
        return client.post(f"/orders/{order}/note", {"version": "1", "text": "Gift wrap"})

    _, response = run_in_threads(other_writer, web_form)

    assert response.status_code == 302
    assert [e.data.get("text") for e in EventStore().load(order)[1:]] == ["from the phone", "Gift wrap"]


@committed
def test_a_conflict_says_which_changes_alone_would_not_have_stopped_the_form(manager, other, settings):
    order = confirmed_meanwhile(settings, manager)
    run_command(commands.AddNote(order, "Call before shipping"), user=other)
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/ship",
        {"version": "1", "carrier": "DHL"},
        shown_at=f"/orders/{order}/",
    )

    banner = re.search(r'id="conflict".*?</div>', text(page), re.S).group(0)
    items = re.findall(r"<li>(.*?)</li>", banner, re.S)
    assert len(items) == 2
    assert "Confirmed: stock reserved for every line" in items[0]
    assert "(this alone would not have stopped it)" in items[0]
    assert "Note: Call before shipping" in items[1] and "would not have stopped" not in items[1]


@committed
def test_what_a_form_went_past_is_said_without_what_staff_wrote(manager, other):
    """The message travels in a cookie: a cancellation's reason and a price
    override's stay on the order's page."""
    order = place_order(user=manager).order_id
    run_command(commands.AddItem(order, "EXTRA-9", 1, 250, "Loyal since 1998"), user=other)
    run_command(commands.CancelOrder(order, "Wife found the receipt"), user=other)
    settle()
    client = login(manager)

    response = client.post(f"/orders/{order}/note", {"version": "1", "text": "Gift wrap"})

    assert response.status_code == 302
    shown = messages_shown(client.get(response["Location"]))
    assert "(Since you opened the page: Added 1 \u00d7 EXTRA-9 at €2.50; the order was cancelled.)" in shown
    cookie = response.cookies["messages"].value
    assert "receipt" not in cookie and "1998" not in cookie


@committed
def test_a_note_goes_through_whatever_changed_since_the_page_was_drawn(manager, other):
    order = place_order(lines=(WIDGET, GADGET), user=manager).order_id
    run_command(commands.AddItem(order, "EXTRA-9", 1, 300), user=other)  # after the page was opened at v1
    settle()
    client = login(manager)

    response = client.post(f"/orders/{order}/note", {"version": "1", "text": "Gift wrap"})

    assert response.status_code == 302
    [note] = EventStore().load(order, after_version=2)
    assert (note.event_type, note.data["text"]) == ("NoteAdded", "Gift wrap")
    shown = messages_shown(client.get(response["Location"]))
    assert "Note added. (Since you opened the page: Added 1 \u00d7 EXTRA-9 at €3.00.)" in shown


@committed
@pytest.mark.parametrize(
    "change, shown",
    [
        (lambda order: commands.AddNote(order, "HOLD: fraud check, do not ship"), "Note: HOLD: fraud check"),
        (lambda order: commands.AddItem(order, "EXTRA-9", 1, 300), "Added 1 \u00d7 EXTRA-9"),
    ],
)
def test_a_note_or_a_line_another_person_added_stops_a_shipment(manager, other, settings, change, shown):
    order = confirmed_meanwhile(settings, manager)  # goes past the confirmation, not past this:
    run_command(change(order), user=other)
    settle()
    now = len(EventStore().load(order))

    page = refused(
        login(manager),
        f"/orders/{order}/ship",
        {"version": "1", "carrier": "DHL"},
        shown_at=f"/orders/{order}/",
    )

    assert len(EventStore().load(order)) == now  # nothing shipped
    conflict = re.search(r'id="conflict">(.*?)</div>', text(page), re.S).group(1)
    assert "changed after you opened the page, so it was not shipped." in conflict
    assert "Confirmed: stock reserved for every line" in conflict and shown in conflict
    assert set(version_inputs(page)) == {now}


@committed
def test_what_a_form_went_past_is_said_without_the_customer_s_address(manager, other):
    order = place_order(lines=(WIDGET,), user=manager).order_id
    address = ShippingAddress("1 Rue de la Paix", None, "75002", "Paris", "FR")
    run_command(commands.ChangeShippingAddress(order, address), user=other)
    client = login(manager)

    response = client.post(f"/orders/{order}/note", {"version": "1", "text": "Gift wrap"})

    assert response.status_code == 302
    shown = messages_shown(client.get(response["Location"]))
    assert "Note added. (Since you opened the page: the shipping address was changed.)" in shown
    assert "Paris" not in str(response.cookies.get("messages", "")) + shown


@committed
def test_adding_a_mistyped_sku_offers_the_catalogue_s(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/add",
        {"version": "1", "sku": "gadget-b", "quantity": "3"},
        shown_at=f"/orders/{order}/",
    )

    said = 'id="add-error">SKU gadget-b is not in the catalogue; did you mean GADGET-B?<'
    assert said in text(page)
    assert "sku: " not in text(page)
    assert event_count() == 1
    client = login(manager)
    for typo in ("GADGT-B", "GADEGT-B"):  # a letter left out, two swapped
        page = refused(client, f"/orders/{order}/add", {"version": "1", "sku": typo, "quantity": "3"},
                       shown_at=f"/orders/{order}/")  # fmt: skip
        assert f"SKU {typo} is not in the catalogue; did you mean GADGET-B?" in text(page)
    page = refused(client, f"/orders/{order}/add", {"version": "1", "sku": "ZZZ-9", "quantity": "3"},
                   shown_at=f"/orders/{order}/")  # fmt: skip
    assert 'id="add-error">SKU ZZZ-9 is not in the catalogue.<' in text(page)  # nothing close


@committed
def test_adding_a_discontinued_sku_shows_the_rule_and_the_typed_values(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    run_command(commands.DiscontinueProduct("NEW-1"))
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/add",
        {"version": "1", "sku": "NEW-1", "quantity": "3"},
        shown_at=f"/orders/{order}/",
    )

    body = text(page)
    assert re.search(r'id="add-error">NEW-1 is no longer sold \(discontinued\).<', body)
    assert (
        'id="add-sku" name="sku" required maxlength="40" list="add-skus" autocomplete="off" value="NEW-1"'
        in body
    )
    assert 'name="quantity" type="number" min="1" max="10000" required value="3"' in body
    assert event_count() == 1


@committed
def test_removing_the_last_line_shows_the_rule(manager):
    order = place_order(lines=(WIDGET,)).order_id
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/remove",
        {"version": "1", "sku": "WIDGET-A", "confirmed": "yes"},
        shown_at=f"/orders/{order}/",
    )

    assert (
        '<div class="alert error" role="alert">'
        "the last line cannot be removed; cancel the order instead</div>" in text(page)
    )
    assert event_count() == 1


@committed
def test_changing_a_shipped_order_shows_the_rule_and_the_typed_reason(manager):
    order = place_order(lines=(WIDGET,)).order_id
    run_command(commands.ShipOrder(order))
    settle()

    page = refused(
        login(manager),
        f"/orders/{order}/cancel",
        {"version": "2", "reason": "too late", "confirmed": "yes"},
        shown_at=f"/orders/{order}/",
    )

    assert re.search(r'id="cancel-error">this order has shipped; it cannot change any more<', text(page))
    assert 'id="again-reason" value="too late"' in text(page)  # kept, in a disabled form
    assert "Cancel order anyway" not in text(page)
    assert not re.search(r'action="/orders/[0-9a-f-]{36}/(add|remove|ship)', text(page))
    assert event_count() == 2


TOO_LONG = "Ensure this value has at most 100 characters (it has 101)."


@committed
def test_invalid_command_input_is_a_form_error_with_what_was_typed(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)
    cases = [
        ("add", {"sku": "NEW-1", "quantity": "0"}, "The quantity is at least 1."),
        ("add", {"sku": "NEW-1", "quantity": "10001"}, "The quantity is at most 10,000."),
        ("add", {"sku": "bad sku!", "quantity": "1"}, "Letters, digits, &#x27;-&#x27;"),
        ("add", {"sku": "NEW-1", "quantity": "many"}, "The quantity is a whole number."),
        ("cancel", {"reason": "   "}, "This field is required."),
        ("ship", {"carrier": "C" * 101}, TOO_LONG),
        ("ship", {"tracking_number": "T" * 101}, TOO_LONG),
    ]
    for action, data, error in cases:
        confirmed = {"confirmed": "yes"} if action == "cancel" else {}
        page = refused(
            client,
            f"/orders/{order}/{action}",
            {"version": "1", **data, **confirmed},
            shown_at=f"/orders/{order}/",
        )
        assert f'<div class="errorlist">{error}' in text(page), data
        if action == "add":  # what was typed is kept
            assert f'value="{html.escape(data["sku"])}"' in text(page)
    assert event_count() == 1


@committed
def test_a_command_without_a_version_says_to_reload(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()

    page = refused(login(manager), f"/orders/{order}/ship", {"carrier": "DHL"}, shown_at=f"/orders/{order}/")

    assert "This form is out of date or incomplete; reload the page and try again." in messages_shown(page)
    assert event_count() == 1


def test_an_unknown_action_or_order_is_404(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    client = login(manager)

    confirmed = {"reason": "x", "confirmed": "yes"}
    assert client.post(f"/orders/{order}/explode", {"version": "1"}).status_code == 404
    assert client.post(f"/orders/{uuid.uuid4()}/cancel", {"version": "0", **confirmed}).status_code == 404
    assert client.post(f"/orders/{uuid.uuid4()}/cancel", {"version": "3", **confirmed}).status_code == 404
    assert client.get(f"/orders/{order}/explode").status_code == 404
    assert event_count() == 1

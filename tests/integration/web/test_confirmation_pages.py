"""Destructive commands (cancel an order, remove a line) run only after a
confirmation page, plain HTML: the order page's form GETs it, it says what
will happen, and only its own form posts the command."""

import html
import re
import uuid

import pytest

from eventstore import EventStore
from tests.integration.web.pages import committed, text, visible_text
from tests.support import GADGET, WIDGET, event_count, login, place_order, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def confirm_form(response) -> tuple[str, dict[str, str]]:
    """The confirmation page's POST form: where it sends, and its fields."""
    form = re.search(r'<form method="post" action="(/orders/[^"]+)"[^>]*>(.*?)</form>', text(response), re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    return form.group(1), {name: html.unescape(value) for name, value in fields.items()}


@committed
def test_cancelling_asks_first_and_runs_only_from_the_confirmation(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)
    detail = text(client.get(f"/orders/{order}/"))
    assert f'<form method="get" action="/orders/{order}/cancel/confirm">' in detail

    page = client.get(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "customer called"})

    assert page.status_code == 200
    body = visible_text(page)
    assert f"Cancel order {str(order)[:8]} ?" in body
    assert "will be cancelled with the reason “customer called”" in body
    assert "total €44.98" in body
    assert "Yes, cancel the order" in body and "No, keep the order" in body
    assert event_count() == 1  # asking changes nothing
    action, fields = confirm_form(page)
    assert action == f"/orders/{order}/cancel"
    assert fields["confirmed"] == "yes" and fields["reason"] == "customer called" and fields["version"] == "1"
    assert re.fullmatch(r"[0-9a-f]{32}", fields["form_key"])

    done = client.post(action, fields)

    assert done.status_code == 302 and done["Location"].startswith(f"/orders/{order}/?after=")
    assert [e.event_type for e in EventStore().load(order)] == ["OrderPlaced", "OrderCancelled"]


@committed
def test_removing_a_line_asks_first_and_names_the_line(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)
    detail = text(client.get(f"/orders/{order}/"))
    assert f'<form method="get" action="/orders/{order}/remove/confirm" class="inline">' in detail

    page = client.get(f"/orders/{order}/remove/confirm", {"version": "1", "sku": "WIDGET-A"})

    body = visible_text(page)
    assert f"Remove WIDGET-A from order {str(order)[:8]} ?" in body
    assert "The line of 2 \u00d7 WIDGET-A at €19.99 (€39.98) leaves the order" in body
    action, fields = confirm_form(page)
    assert client.post(action, fields).status_code == 302
    assert [e.event_type for e in EventStore().load(order)] == ["OrderPlaced", "ItemRemoved"]


@pytest.mark.parametrize("action, data", [("cancel", {"reason": "no"}), ("remove", {"sku": "GADGET-B"})])
def test_a_destructive_command_posted_without_confirmation_asks_first(manager, action, data):
    order = place_order(lines=(WIDGET, GADGET)).order_id

    response = login(manager).post(
        f"/orders/{order}/{action}", {"version": "1", **data, "form_key": "b" * 32}
    )

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"/orders/{order}/{action}/confirm?")
    assert "version=1" in location and "form_key" not in location
    assert event_count() == 1


@committed
def test_a_cancel_without_a_reason_goes_back_to_the_order_form(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()
    client = login(manager)

    response = client.get(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "  "})

    assert response.status_code == 303
    assert response["Location"].startswith(f"/orders/{order}/?form=")
    page = client.get(response["Location"])
    assert '<div class="errorlist">This field is required.' in text(page)
    assert event_count() == 1


@committed
def test_confirming_the_removal_of_a_line_that_is_gone_offers_no_button(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    settle()

    page = login(manager).get(f"/orders/{order}/remove/confirm", {"version": "1", "sku": "NOT-THERE"})

    assert "NOT-THERE is not on this order" in html.unescape(text(page))
    assert "Yes, remove the line" not in text(page)


@committed
def test_confirming_a_change_to_a_closed_order_says_so_and_offers_no_button(manager):
    """A stale tab: the order was cancelled since its page was drawn."""
    from orders import commands
    from tests.support import run_command

    order = place_order(lines=(WIDGET, GADGET)).order_id
    run_command(commands.CancelOrder(order, "changed mind"))
    settle()
    client = login(manager)
    cancel = client.get(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "again"})
    remove = client.get(f"/orders/{order}/remove/confirm", {"version": "1", "sku": WIDGET[0]})
    for page in (cancel, remove):
        assert page.status_code == 200
        assert "This order is cancelled: it cannot change any more." in text(page)
        assert "will be cancelled" not in text(page) and "leaves the order" not in text(page)
        assert 'method="post"' not in text(page).split('id="confirm"')[1]
    assert event_count() == 2


@committed
def test_a_confirmation_from_an_out_of_date_page_says_what_changed_before_asking(manager, other):
    """What would stop the command after the confirmation stops it at the
    confirmation page; what would not (the process confirming the order)
    still lets it be confirmed."""
    from orders import commands
    from tests.support import run_command

    order = place_order(lines=(WIDGET, GADGET)).order_id
    run_command(commands.AddNote(order, "Customer will collect on Friday"), user=other)
    settle()
    client = login(manager)

    cancel = client.get(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "duplicate"})

    assert "This order changed after you opened its page, so it was not cancelled" in text(cancel)
    assert "Note: Customer will collect on Friday" in text(cancel)
    assert 'method="post"' not in text(cancel).split('id="confirm"')[1]
    current = client.get(f"/orders/{order}/cancel/confirm", {"version": "2", "reason": "duplicate"})
    assert "Yes, cancel the order" in text(current) and "confirm-changed" not in text(current)
    assert event_count() == 2


def test_confirmation_pages_exist_only_for_destructive_commands_and_orders(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    client = login(manager)

    assert client.get(f"/orders/{order}/ship/confirm", {"version": "1"}).status_code == 404
    assert (
        client.get(f"/orders/{uuid.uuid4()}/cancel/confirm", {"version": "1", "reason": "x"}).status_code
        == 404
    )
    assert client.get(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "x"}).status_code == 200
    assert client.post(f"/orders/{order}/cancel/confirm", {"version": "1", "reason": "x"}).status_code == 405

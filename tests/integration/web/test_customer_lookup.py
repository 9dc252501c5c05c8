"""The place-order form's customer lookup: while a customer id is typed, the
known customers it may be; for one of them exactly, their contact and
address on file, filled in on request. Forgotten customers are not offered."""

import html
import re

import pytest

from eventstore.models import Event
from orders import commands, prefill
from tests.integration.test_personal_data import columns_holding
from tests.integration.web.pages import text
from tests.support import LINE_A, SHIPPING_FORM, ApiClient, login, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalogue")]

DETAILS = {
    "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "shipping_address": {
        "line1": "12 Analytical Row",
        "postcode": "N1 9GU",
        "city": "London",
        "country": "GB",
    },
}


def orders_placed() -> int:
    return Event.objects.filter(event_type="OrderPlaced").count()


def customers(manager, *ids):
    api = ApiClient(manager)
    for customer in ids:
        assert (
            api.post("/api/orders/", {"customer_id": customer, "items": [LINE_A], **DETAILS}).status_code
            == 201
        )
    settle()


def filled_in_from_the_file(client, customer: str, *, ordered_for: str | None = None) -> dict:
    """The place-order form with ``customer``'s contact and address filled in
    from their file (its ``details_from`` stamp as the page drew it), for
    ``ordered_for`` (the same customer unless given), one line."""
    filled = text(client.get("/orders/customer-prefill", {"customer_id": customer}))
    stamp = re.search(r'name="details_from" value="([^"]+)"', filled).group(1)
    return {
        **SHIPPING_FORM,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "address_line1": "12 Analytical Row",
        "details_from": stamp,
        "customer_id": ordered_for or customer,
        "sku_0": LINE_A["sku"],
        "quantity_0": "1",
    }


def test_typing_a_customer_id_suggests_the_known_ones_and_offers_the_address_on_file(manager):
    customers(manager, "cust_ada", "cust_adam", "CUST_bob")
    client = login(manager)

    typed = client.get("/orders/customer-lookup", {"customer_id": "CUST_AD"})
    assert typed.status_code == 200
    assert 'hx-swap-oob="true"' in text(typed)
    assert text(typed).count("<option") == 2  # cust_ada, cust_adam: any case; not CUST_bob
    assert 'value="cust_ada" label="Ada Lovelace, London"' in text(typed)
    assert "use-address-on-file" not in text(typed)  # no one exactly

    exact = client.get("/orders/customer-lookup", {"customer_id": "cust_ada"})
    assert "A known customer: Ada Lovelace, London." in text(exact)
    assert "/orders/customer-prefill?customer_id=cust_ada" in html.unescape(text(exact))

    filled = client.get("/orders/customer-prefill", {"customer_id": "cust_ada"})
    assert filled.status_code == 200
    page = text(filled)
    assert 'id="place-contact"' in page
    shown = {"name": "Ada Lovelace", "email": "ada@example.com", "address_line1": "12 Analytical Row"}
    shown |= {"postcode": "N1 9GU", "city": "London"}
    for name, value in shown.items():
        assert f'name="{name}" value="{value}"' in page, name
    assert 'id="place-name"' in page  # the place-order form's own field ids
    assert '<option value="GB" selected>' in page


def test_nothing_is_offered_for_unknown_forgotten_or_malformed_ids_nor_to_anyone_signed_out(manager, staff):
    customers(manager, "cust_gone")
    commands.execute(commands.ForgetCustomer("cust_gone"))
    settle()
    client = login(manager)
    for typed in ("cust_gone", "cust_nobody", "bad id!", ""):
        answer = client.get("/orders/customer-lookup", {"customer_id": typed})
        assert answer.status_code == 200 and "<option" not in text(answer), typed
    assert client.get("/orders/customer-prefill", {"customer_id": "cust_gone"}).status_code == 404
    assert client.get("/orders/customer-prefill", {"customer_id": "cust_nobody"}).status_code == 404
    assert client.get("/orders/customer-prefill", {"customer_id": "bad id!"}).status_code == 404
    assert login(None).get("/orders/customer-lookup", {"customer_id": "cust"}).status_code == 302
    assert login(None).get("/orders/customer-prefill", {"customer_id": "cust_gone"}).status_code == 302


def test_the_place_order_form_asks_for_the_lookup_as_the_customer_id_is_typed(manager):
    page = text(login(manager).get("/orders/"))
    assert 'list="known-customers"' in page and 'hx-get="/orders/customer-lookup"' in page
    assert '<fieldset class="filters" style="border:0;padding:0;margin:0 0 .8rem" id="place-contact">' in page
    assert SHIPPING_FORM["name"] not in page  # nothing filled in before it is asked for


@pytest.mark.postgres
def test_details_filled_in_from_a_customer_forgotten_before_the_form_is_sent_are_not_used(manager, staff):
    customers(manager, "cust_gone")
    client = login(manager)
    form = filled_in_from_the_file(client, "cust_gone")
    assert form["details_from"] == "0:cust_gone"  # never forgotten, yet
    assert ApiClient(staff).post("/api/customers/cust_gone/forget").status_code == 200  # meanwhile
    settle()
    placed = orders_placed()

    refused_to = client.post("/orders/", form)

    assert refused_to.status_code == 303 and orders_placed() == placed
    page = client.get(refused_to["Location"]).content.decode()
    assert "cust_gone was forgotten after their contact and address were filled in from the file" in page
    assert 'value="cust_gone"' in page  # the rest is kept...
    assert columns_holding(["Ada Lovelace", "Analytical"]) == []  # ...not their details, anywhere
    # Given again by the customer (typed, not from the file), they are taken.
    typed = {name: value for name, value in form.items() if name != "details_from"}
    placed_again = client.post("/orders/", typed)
    assert placed_again.status_code == 302
    assert orders_placed() == placed + 1
    shown = html.unescape(client.get(placed_again["Location"]).content.decode())
    assert "cust_gone had been forgotten before: the contact and address given now are kept." in shown


@pytest.mark.postgres
def test_a_forget_between_the_form_s_check_and_its_command_is_caught_by_the_command(manager, monkeypatch):
    """The command checks the stamp again in its own transaction, under the
    lock forgetting takes: a forget committing after the view's check is
    seen there."""
    customers(manager, "cust_raced")
    client = login(manager)
    form = filled_in_from_the_file(client, "cust_raced")
    checked_in_the_view = prefill.forgotten_since

    def then_another_request_forgets(data):
        answer = checked_in_the_view(data)
        commands.execute(commands.ForgetCustomer("cust_raced"))  # a staff user, meanwhile
        return answer

    monkeypatch.setattr(prefill, "forgotten_since", then_another_request_forgets)
    placed = orders_placed()

    refused_to = client.post("/orders/", form)

    assert refused_to.status_code == 303 and orders_placed() == placed
    page = client.get(refused_to["Location"]).content.decode()
    assert "cust_raced was forgotten after their contact and address were filled in from the file" in page
    settle()
    assert columns_holding(["Ada Lovelace", "Analytical"]) == []


@pytest.mark.postgres
def test_the_change_address_form_does_not_bring_back_an_address_erased_after_the_page_showed_it(
    manager, staff
):
    customers(manager, "cust_moving")
    [order] = Event.objects.filter(event_type="OrderPlaced").values_list("aggregate_id", flat=True)
    client = login(manager)
    page = text(client.get(f"/orders/{order}/"))
    drawn = re.search(r'id="address-heading".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="([a-z_0-9]+)"[^>]*value="([^"]*)"', drawn))
    fields["country"] = "GB"
    assert fields["address_line1"] == "12 Analytical Row" and fields["details_from"] == "0:cust_moving"
    assert ApiClient(staff).post("/api/customers/cust_moving/forget").status_code == 200  # meanwhile
    settle()
    before = Event.objects.filter(aggregate_id=order).count()

    response = client.post(f"/orders/{order}/address", {**fields, "postcode": "N1 9GV"})  # a typo fixed

    assert response.status_code == 303 and Event.objects.filter(aggregate_id=order).count() == before
    shown = client.get(response["Location"]).content.decode()
    assert "cust_moving was forgotten after this page showed their details" in shown
    assert "Analytical" not in shown
    assert columns_holding(["Ada Lovelace", "Analytical"]) == []
    # Now the page offers no address to send back: the customer's file is erased.
    again = text(client.get(f"/orders/{order}/"))
    assert "Analytical" not in re.search(r'id="address-heading".*?</form>', again, re.S).group(0)


@pytest.mark.postgres
def test_details_filled_in_from_one_customer_s_file_are_not_placed_for_another(manager):
    """They would outlive that customer's erasure under the other's key."""
    customers(manager, "cust_ada")
    client = login(manager)
    form = filled_in_from_the_file(client, "cust_ada", ordered_for="cust_typo")  # the id changed after
    placed = orders_placed()

    refused_to = client.post("/orders/", form)

    assert refused_to.status_code == 303 and orders_placed() == placed
    page = html.unescape(client.get(refused_to["Location"]).content.decode())
    assert "filled in from cust_ada's file, but the order is for cust_typo: they were not used" in page
    assert 'value="cust_typo"' in page and "Analytical" not in page


@pytest.mark.postgres
def test_details_filled_in_from_the_file_place_the_order_while_the_customer_is_on_file(manager):
    customers(manager, "cust_kept")
    client = login(manager)
    stamp = re.search(
        r'name="details_from" value="([^"]+)"',
        text(client.get("/orders/customer-prefill", {"customer_id": "cust_kept"})),
    ).group(1)
    form = {**SHIPPING_FORM, "details_from": stamp, "customer_id": "cust_kept", "sku_0": "WIDGET-A"}

    assert client.post("/orders/", {**form, "quantity_0": "1"}).status_code == 302


def test_a_known_customer_s_id_typed_in_another_case_is_not_taken_for_a_new_customer(manager):
    customers(manager, "cust_Grace")
    client = login(manager)
    form = {**SHIPPING_FORM, "customer_id": "CUST_GRACE", "sku_0": LINE_A["sku"], "quantity_0": "1"}
    placed = orders_placed()

    response = client.post("/orders/", form)

    assert response.status_code == 303 and orders_placed() == placed
    page = html.unescape(text(client.get(response["Location"])))
    assert "There is no customer CUST_GRACE, but there is cust_Grace (customer ids are case-sen" in page
    # The page kept what was typed, sealed under CUST_GRACE's key: that makes no customer.
    assert client.post("/orders/", form).status_code == 303 and orders_placed() == placed
    api = ApiClient(manager).post("/api/orders/", {"customer_id": "CUST_GRACE", "items": [LINE_A], **DETAILS})
    assert api.status_code == 409 and api.json()["known_customer_id"] == "cust_Grace"
    assert client.post("/orders/", {**form, "customer_id": "cust_Grace"}).status_code == 302
    assert client.post("/orders/", {**form, "customer_id": "cust_new"}).status_code == 302  # a new one
    assert orders_placed() == placed + 2


@pytest.mark.postgres
def test_a_known_customer_s_id_typed_in_another_case_is_pointed_out_while_typed(manager):
    customers(manager, "cust_ada")
    client = login(manager)
    typed = text(client.get("/orders/customer-lookup", {"customer_id": "CUST_ADA"}))
    assert "There is no customer CUST_ADA, but there is cust_ada" in html.unescape(typed)
    for exact_or_new in ("cust_ada", "cust_ad", "cust_bob"):
        answer = text(client.get("/orders/customer-lookup", {"customer_id": exact_or_new}))
        assert "customer-spelled-otherwise" not in answer, exact_or_new


def test_the_file_is_not_offered_until_it_has_caught_up_with_an_erasure(manager, staff):
    customers(manager, "cust_lag")
    assert ApiClient(staff).post("/api/customers/cust_lag/forget").status_code == 200  # not yet projected

    filled = login(manager).get("/orders/customer-prefill", {"customer_id": "cust_lag"})

    assert filled.status_code == 404
    assert "Ada Lovelace" not in text(filled)


@pytest.mark.postgres
def test_the_stamp_rides_with_a_form_drawn_again_without_javascript(manager, staff):
    customers(manager, "cust_nojs")
    client = login(manager)
    filled = text(client.get("/orders/customer-prefill", {"customer_id": "cust_nojs"}))
    stamp = re.search(r'name="details_from" value="([^"]+)"', filled).group(1)
    form = {**SHIPPING_FORM, "name": "Ada Lovelace", "details_from": stamp, "customer_id": "cust_nojs"}

    longer = text(client.post("/orders/", {**form, "sku_0": "WIDGET-A", "quantity_0": "1", "add_line": "1"}))
    assert f'name="details_from" value="{stamp}"' in longer  # "Add a line" without JavaScript

    assert ApiClient(staff).post("/api/customers/cust_nojs/forget").status_code == 200
    placed = orders_placed()
    refused_to = client.post("/orders/", {**form, "sku_0": "WIDGET-A", "quantity_0": "1"})
    assert refused_to.status_code == 303 and orders_placed() == placed


@pytest.mark.parametrize("stamp", ["\u00b2:cust_x", "1" * 5000 + ":cust_x", "x:cust_x", ":", "5"])
def test_a_doctored_stamp_is_no_stamp(manager, stamp):
    form = {**SHIPPING_FORM, "details_from": stamp, "customer_id": "cust_x", "sku_0": "WIDGET-A"}

    response = login(manager).post("/orders/", {**form, "quantity_0": "1"})

    assert response.status_code == 302  # placed, as if typed by hand

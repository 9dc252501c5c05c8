"""The place-order form says everything wrong with it in one go: each row
shows every problem of its own (a SKU the catalogue does not have, with
the one it may have meant; a product no longer sold; a missing or bad
quantity; rows of one SKU that add up to more than a line holds; a price
changed since the row showed it), the top of the form says which rows,
what was typed comes back, and nothing is appended. Some of it only the
catalogue knows: it is asked whether or not the form could be sent."""

import re

import pytest

from orders import commands
from tests.integration.web.pages import committed, place_rows, place_summary, refused, visible_text
from tests.support import SHIPPING_FORM, event_count, login, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def row_errors(row: str) -> str:
    """A row's errors, under its SKU first, then under its quantity."""
    return " ".join(re.findall(r'<div class="errorlist">(.*?)</div>', row, re.S))


def quantity_errors(row: str) -> str:
    cell = re.search(r'<td data-label="Quantity">(.*?)</td>', row, re.S).group(1)
    return " ".join(re.findall(r'<div class="errorlist">(.*?)</div>', cell, re.S))


def typed(row: str, field: str) -> str:
    return re.search(rf'name="{field}_[^"]+" [^>]*value="([^"]*)"', row).group(1)


@committed
def test_every_problem_on_every_row_is_shown_next_to_it_and_nothing_is_placed(manager):
    run_command(commands.DiscontinueProduct("NEW-1"))
    settle()  # the catalogue read model offers "did you mean"
    commands.execute(commands.ChangeProductPrice("WIDGET-A", 2199))  # after the form showed 19.99
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_many_problems",
        "sku_a": "gadget-b",  # not a SKU of the catalogue: GADGET-B is
        "quantity_a": "1",
        "sku_b": "NEW-1",  # discontinued
        "quantity_b": "2",
        "sku_c": "BOLT-7",  # fine
        "quantity_c": "",  # ...but how many?
        "sku_d": "NO-SUCH",
        "quantity_d": "0",
        "sku_e": "WIDGET-A",
        "quantity_e": "3",
        "price_e": "1999",
        "price_for_e": "WIDGET-A",
        "sku_f": "EXTRA-9",  # rows of one SKU make one line: 6,000 + 5,000 units
        "quantity_f": "6000",
        "sku_g": "EXTRA-9",
        "quantity_g": "5000",
        "sku_h": "GADGET-B",  # a good row
        "quantity_h": "4",
    }

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    assert event_count() == 0
    rows = place_rows(page)
    assert list(rows) == list("abcdefgh")
    over = (
        "EXTRA-9 is on more than one line, 11,000 units in all; "
        "its lines are joined into one, of at most 10,000."
    )
    assert {key: row_errors(row) for key, row in rows.items()} == {
        "a": "SKU gadget-b is not in the catalogue; did you mean GADGET-B?",
        "b": "NEW-1 is no longer sold (discontinued).",
        "c": "Line 3 needs a quantity.",
        "d": "SKU NO-SUCH is not in the catalogue. The quantity is at least 1.",
        "e": "The price of WIDGET-A changed from €19.99 to €21.99; check and submit again.",
        "f": over,
        "g": over,
        "h": "",
    }
    # A quantity's own errors stand under the quantity, the product's under the SKU.
    assert {key: quantity_errors(row) for key, row in rows.items() if quantity_errors(row)} == {
        "c": "Line 3 needs a quantity.",
        "d": "The quantity is at least 1.",
    }
    assert [(typed(row, "sku"), typed(row, "quantity")) for row in rows.values()] == [
        ("gadget-b", "1"),
        ("NEW-1", "2"),
        ("BOLT-7", ""),
        ("NO-SUCH", "0"),
        ("WIDGET-A", "3"),
        ("EXTRA-9", "6000"),
        ("EXTRA-9", "5000"),
        ("GADGET-B", "4"),
    ]
    assert 'name="price_e" value="2199"' in rows["e"]  # sent again, the new price is charged
    assert 'aria-invalid="true"' in rows["a"] and 'aria-invalid="true"' not in rows["h"]
    assert place_summary(page) == (
        "Prices changed since this form was shown and lines 1, 2, 3, 4, 6 and 7 need correcting; "
        "nothing was placed."
    )
    assert 'value="cust_many_problems"' in page.content.decode()


def test_the_command_refuses_every_catalogue_problem_at_once(manager):
    """A form whose rows are all well formed runs the command: it finds
    every unknown SKU, discontinued product and changed price before it
    refuses the order, and each row says its own."""
    run_command(commands.DiscontinueProduct("NEW-1"))
    commands.execute(commands.ChangeProductPrice("GADGET-B", 650))
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_catalogue",
        "sku_1": "NO-SUCH",
        "quantity_1": "1",
        "sku_2": "NEW-1",
        "quantity_2": "1",
        "sku_3": "GADGET-B",
        "quantity_3": "2",
        "price_3": "500",
        "price_for_3": "GADGET-B",
        "sku_4": "WIDGET-A",
        "quantity_4": "1",
    }

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    assert event_count() == 0
    assert {key: row_errors(row) for key, row in place_rows(page).items()} == {
        "1": "SKU NO-SUCH is not in the catalogue.",
        "2": "NEW-1 is no longer sold (discontinued).",
        "3": "The price of GADGET-B changed from €5.00 to €6.50; check and submit again.",
        "4": "",
    }
    assert place_summary(page) == (
        "Prices changed since this form was shown and lines 1 and 2 need correcting; nothing was placed."
    )


def test_a_discontinued_product_without_a_quantity_is_named_as_no_longer_sold(manager):
    run_command(commands.DiscontinueProduct("GADGET-B"))
    form = {**SHIPPING_FORM, "customer_id": "cust_gone", "sku_0": "GADGET-B", "quantity_0": ""}

    page = refused(login(manager), "/orders/", form, shown_at="/orders/")

    assert (
        row_errors(place_rows(page)["0"])
        == "GADGET-B is no longer sold (discontinued). Line 1 needs a quantity."
    )
    assert "Line 1 needs correcting; nothing was placed." in visible_text(page)
    assert event_count() == 0


@pytest.mark.parametrize(
    "field, value",
    [("sku_a", "W\x00"), ("customer_id", "cust\x00"), ("quantity_a", "1\x00"), ("name", "A\x00")],
)
def test_a_nul_byte_anywhere_is_a_form_error_not_a_server_error(manager, field, value):
    client = login(manager)
    form = {**SHIPPING_FORM, "customer_id": "cust_nul", "sku_a": "WIDGET-A", "quantity_a": "1", field: value}
    before = event_count()

    for sent in (form, {**form, "add_line": "1"}):
        response = client.post("/orders/", sent, follow=True)
        assert response.status_code == 200, field
    assert event_count() == before

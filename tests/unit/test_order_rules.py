"""The order rules as given events / when command / then events or error."""

import uuid

import pytest

from orders.domain import (
    DuplicateOrderError,
    InvalidOrderDataError,
    ItemAdded,
    ItemRemoved,
    LastLineRemovalError,
    Line,
    LineNotFoundError,
    OrderAggregate,
    OrderCancelled,
    OrderClosedError,
    OrderNotFoundError,
    OrderPlaced,
    OrderShipped,
    PriceMismatchError,
    TooManyLinesError,
    rules,
)
from orders.domain.errors import (
    OrderAlreadyCancelledError,
    OrderAlreadyShippedError,
    QuantityLimitError,
)

PLACED = OrderPlaced("cust_456", (Line("WIDGET-A", 2, 1999), Line("GADGET-B", 1, 500)), 4498)


def given(*events):
    return OrderAggregate.from_history(uuid.uuid4(), list(events))


def test_placing_an_order_records_its_lines_and_total():
    order = OrderAggregate(uuid.uuid4())
    order.place("cust_456", [("WIDGET-A", 2, 1999), ("GADGET-B", 1, 500)])
    assert order.pending == [PLACED]
    assert order.version == 1 and order.total_cents == 4498


def test_the_same_sku_twice_in_a_new_order_becomes_one_line():
    order = OrderAggregate(uuid.uuid4())
    order.place("c1", [("A", 2, 100), ("A", 3, 100)])
    assert order.pending[0].items == (Line("A", 5, 100),)


def test_an_order_is_placed_once():
    with pytest.raises(DuplicateOrderError):
        given(PLACED).place("cust_456", [("X", 1, 1)])


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([("bad sku!", 1, 1)], "sku"),
        ([("", 1, 1)], "sku"),
        ([("S" * 41, 1, 1)], "sku"),
        ([("A\n", 1, 1)], "sku"),
        ([("A", 0, 1)], "quantity"),
        ([("A", 10_001, 1)], "quantity"),
        ([("A", True, 1)], "quantity"),
        ([("A", 1, -1)], "price_cents"),
        ([("A", 1, 10_000_001)], "price_cents"),
        ([("A", 1, 1.5)], "price_cents"),
    ],
)
def test_invalid_lines_are_refused(items, field):
    with pytest.raises(InvalidOrderDataError) as err:
        OrderAggregate(uuid.uuid4()).place("c1", items)
    assert err.value.field == field


def test_customer_id_must_be_a_short_code():
    with pytest.raises(InvalidOrderDataError):
        OrderAggregate(uuid.uuid4()).place("not a customer", [("A", 1, 1)])


@pytest.mark.parametrize(
    ("check", "value"),
    [(rules.check_country, "GB\n"), (rules.check_sku, "A-1\n")],
)
def test_a_trailing_newline_is_not_part_of_a_valid_value(check, value):
    with pytest.raises(InvalidOrderDataError):
        check(value)
    assert check(value.rstrip("\n")) == value.rstrip("\n")


@pytest.mark.parametrize(
    "bad", ["\u0007", "\x1b[31m", "\u2028", "\u2066", "\x85", "\u206e", "\ud800", "\ufffe"]
)
def test_free_text_refuses_control_characters_and_one_line_text_refuses_line_breaks(bad):
    text = f"ring {bad}twice"
    for check in (rules.check_text, lambda *a, **k: rules.check_text(*a, **k, lines=True)):
        with pytest.raises(InvalidOrderDataError, match="control characters"):
            check("text", text, 100, required=True)
    with pytest.raises(InvalidOrderDataError, match="one line"):
        rules.check_text("reason", "too\nlate", 100, required=True)
    assert rules.check_text("text", " ring\r\n\ttwice ", 100, required=True, lines=True) == "ring\r\n\ttwice"
    assert (
        rules.check_text("reason", "Café crème, 40\u00a0mm ✓", 100, required=True)
        == "Café crème, 40\u00a0mm ✓"
    )
    order = given(PLACED)
    order.add_note("ring twice,\nthen knock")  # a note may have lines
    with pytest.raises(InvalidOrderDataError):
        order.cancel("customer\u202e asked")


@pytest.mark.parametrize(
    "bad",
    [
        "LAMP\u200b-1",  # a zero-width space
        "LAMP\u00ad-1",  # a soft hyphen
        "\u3164",  # a Hangul filler: a name that looks blank
        "Ada\u2800",  # the braille blank
        "\u115fAda",
        "Ada\ufeff",
        "LAMP\u200c-1",  # a joiner beside ASCII joins nothing
        "\u200dAda",
        "Ada\U000e0041",  # a tag character outside a flag
        "Ada\u200e",  # a left-to-right mark in text with nothing right-to-left
        "Ada\ufe0f",  # a variation selector after ASCII
        "Ada\u034f",  # a combining grapheme joiner after ASCII
        "\u200b\u6771\u4eac",  # a zero-width space that breaks nothing
        "Ada\u200fLovelace",  # a right-to-left mark (itself right-to-left) in left-to-right text
        "Ada\u061c",  # the Arabic letter mark, likewise
        "Ada\U0001bca0",  # a shorthand format control
    ],
)
def test_text_refuses_invisible_characters_that_make_it_look_like_other_text(bad):
    for check in (rules.check_text, rules.check_personal_text):
        with pytest.raises(InvalidOrderDataError, match="invisible") as err:
            check("name", bad, 100, required=True)
        assert err.value.field == "name"


@pytest.mark.parametrize(
    "good",
    [
        "Shirin Ne\u2019mati \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # ZWNJ in a Persian word
        "\u0915\u094d\u200d\u0937",  # ZWJ after a virama (Devanagari)
        "\U0001f469\u200d\U0001f4bb Ada",  # an emoji ZWJ sequence
        # England's flag
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f supporters' club",
        "Ada\u00a0Lovelace",  # a no-break space, as pasted from a web page
        "\u6771\u4eac\u90fd\u3000\u6e2f\u533a",  # an ideographic space in a Japanese address
        "\u05e9\u05dc\u05d5\u05dd \u200f12",  # a right-to-left mark before digits
        # Khmer: the zero-width space is its word break
        "\u1797\u17d2\u1793\u17c6\u1796\u17c1\u1789\u200b\u1780\u17d2\u179a\u17bb\u1784",
        "\u0d05\u0d35\u0d28\u0d4d\u200d \u0d35\u0d28\u0d4d\u0d28\u0d41",  # a Malayalam chillu ends a word
        "\u0dc1\u0dca\u200d\u0dbb\u0dd3",  # Sinhala's ZWJ after the virama
        # a keycap, a rainbow flag, a skin tone
        "1\ufe0f\u20e3 first, \U0001f3f3\ufe0f\u200d\U0001f308, \U0001f44d\U0001f3fd",
        "\u845b\U000e0100\u57ce",  # an ideographic variation selector in a Japanese name
        "\u0e23\u0e32\u0e04\u0e32\u200b100\u0e1a\u0e32\u0e17",  # Thai's word break before digits
        "\u0e20\u0e32\u0e29\u0e32\u200b iPhone",  # and before a Latin word
    ],
)
def test_names_and_addresses_keep_what_scripts_emoji_and_pasted_text_need(good):
    assert rules.check_personal_text("name", good, 200, required=True) == good
    assert rules.check_text("name", good, 200, required=True) == good


def test_text_is_kept_in_unicode_s_composed_form():
    assert rules.check_text("name", "Cafe\u0301 lamp", 100, required=True) == "Caf\u00e9 lamp"
    assert rules.check_personal_text("name", " Jose\u0301 ", 100, required=True) == "Jos\u00e9"


def test_an_email_holds_no_invisible_character():
    with pytest.raises(InvalidOrderDataError) as err:
        rules.check_email("ada@example.com\u200e")
    assert err.value.field == "email"


def test_text_of_only_marks_or_spaces_is_refused():
    for check in (rules.check_text, rules.check_personal_text):
        with pytest.raises(InvalidOrderDataError, match="something to read"):
            check("name", "\u0301\u00a0\u0301", 100, required=True)


def test_an_order_has_at_most_100_lines():
    order = OrderAggregate(uuid.uuid4())
    order.place("c1", [(f"SKU-{i}", 1, 1) for i in range(100)])
    with pytest.raises(TooManyLinesError):
        order.add_item("SKU-100", 1, 1)
    order.add_item("SKU-5", 1, 1)  # an existing line still grows
    with pytest.raises(TooManyLinesError):
        OrderAggregate(uuid.uuid4()).place("c1", [(f"SKU-{i}", 1, 1) for i in range(101)])


def test_adding_a_sku_already_on_the_order_increases_its_quantity():
    order = given(PLACED)
    order.add_item("WIDGET-A", 3, 1999)
    assert order.pending == [ItemAdded("WIDGET-A", 3, 1999, 4498 + 3 * 1999)]
    assert order.lines["WIDGET-A"] == Line("WIDGET-A", 5, 1999)
    assert len(order.lines) == 2


def test_adding_a_known_sku_at_another_price_is_refused():
    with pytest.raises(PriceMismatchError):
        given(PLACED).add_item("WIDGET-A", 1, 2500)


def test_a_line_holds_at_most_10000_units():
    order = given(PLACED)
    order.add_item("WIDGET-A", 9_998, 1999)
    with pytest.raises(QuantityLimitError):
        order.add_item("WIDGET-A", 1, 1999)


def test_removing_a_line_records_it_as_it_was():
    order = given(PLACED)
    order.remove_item("GADGET-B")
    assert order.pending == [ItemRemoved("GADGET-B", 1, 500, 3998)]
    assert list(order.lines) == ["WIDGET-A"]
    assert order.total_cents == 3998


def test_removing_a_sku_that_is_not_there_is_an_error():
    with pytest.raises(LineNotFoundError):
        given(PLACED).remove_item("NOPE")


def test_the_last_line_cannot_be_removed():
    order = given(PLACED, ItemRemoved("GADGET-B", 1, 500, 3998))
    with pytest.raises(LastLineRemovalError):
        order.remove_item("WIDGET-A")


def test_ship_and_cancel_close_the_order():
    shipped = given(PLACED)
    shipped.ship("DHL", "JD0001")
    assert shipped.pending == [OrderShipped("DHL", "JD0001")]
    cancelled = given(PLACED)
    cancelled.cancel("  customer changed their mind ")
    assert cancelled.pending == [OrderCancelled("customer changed their mind")]


def test_shipping_without_carrier_details_is_allowed():
    order = given(PLACED)
    order.ship()
    assert order.pending == [OrderShipped(None, None)]


def test_cancelling_needs_a_reason():
    with pytest.raises(InvalidOrderDataError):
        given(PLACED).cancel("   ")


def test_cannot_cancel_a_shipped_order():
    with pytest.raises(OrderAlreadyShippedError):
        given(PLACED, OrderShipped(None, None)).cancel("too late")


def test_cannot_ship_a_cancelled_order():
    with pytest.raises(OrderAlreadyCancelledError):
        given(PLACED, OrderCancelled("no stock")).ship()


@pytest.mark.parametrize("closing", [OrderShipped("UPS", None), OrderCancelled("fraud")])
@pytest.mark.parametrize(
    "command",
    [
        lambda o: o.add_item("NEW", 1, 1),
        lambda o: o.remove_item("WIDGET-A"),
        lambda o: o.ship(),
        lambda o: o.cancel("again"),
    ],
)
def test_nothing_changes_after_shipping_or_cancelling(closing, command):
    order = given(PLACED, closing)
    with pytest.raises(OrderClosedError):
        command(order)
    assert order.pending == []


@pytest.mark.parametrize(
    "command",
    [
        lambda o: o.add_item("A", 1, 1),
        lambda o: o.remove_item("A"),
        lambda o: o.ship(),
        lambda o: o.cancel("x"),
    ],
)
def test_commands_on_an_order_that_was_never_placed_fail(command):
    with pytest.raises(OrderNotFoundError):
        command(OrderAggregate(uuid.uuid4()))


def test_events_round_trip_through_their_stored_form():
    from orders.domain.events import event_from_data

    for event in (
        PLACED,
        ItemAdded("A", 1, 2, 3),
        ItemRemoved("A", 1, 2, 3),
        OrderShipped(None, "T"),
        OrderCancelled("r"),
    ):
        assert event_from_data(event.event_type, event.to_data()) == event


def test_event_data_matches_the_registered_schemas():
    import jsonschema_rs

    for event in (
        PLACED,
        ItemAdded("A", 1, 2, 3),
        ItemRemoved("A", 1, 2, 3),
        OrderShipped(None, "T"),
        OrderCancelled("r"),
    ):
        assert jsonschema_rs.validator_for(event.schema).is_valid(event.to_data()), event


def test_every_event_kind_is_stored_as_exactly_the_data_of_its_fields():
    from dataclasses import asdict

    from orders.domain.inventory import InventoryItem
    from orders.domain.product import Product
    from orders.domain.shipping import Contact, ShippingAddress

    order = OrderAggregate(uuid.uuid4())
    address = ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB")
    order.place(
        "cust_1",
        [("WIDGET-A", 2, 1999), ("GADGET-B", 1, 500)],
        contact=Contact("Ada", "a@b.c"),
        address=address,
    )
    order.add_item("NUT-8", 3, 10)
    order.change_quantity("NUT-8", 1)
    order.add_note("ring twice")
    order.change_shipping_address(ShippingAddress("1 Other St", "Flat 2", "N1 1AA", "London", "GB"))
    order.remove_item("NUT-8")
    order.ship("DHL", "JD1")
    product = Product("WIDGET-A")
    product.add("Widget", 1999, "a widget")
    product.change_price(2099)
    stock = InventoryItem("WIDGET-A")
    stock.receive(5)
    stock.reserve(order.id, 2, "line-1")
    events = [*order.pending, *product.pending, *stock.pending]
    assert len({type(e) for e in events}) >= 10
    for event in events:
        data = event.to_data()
        expected = asdict(event)
        if isinstance(event, OrderPlaced):  # its lines are stored as a list
            expected["items"] = [asdict(line) for line in event.items]
        assert data == expected and list(data) == list(expected), event
        assert type(event).from_data(data) == event

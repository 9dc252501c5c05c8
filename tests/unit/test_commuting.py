"""Which changes a decision taken on an order's page does not depend on
(orders.domain.commuting)."""

from orders.domain.commuting import INDEPENDENT_OF, still_meant
from orders.domain.events import EVENT_TYPES


def test_the_table_names_only_event_types_that_exist():
    for action, independent in INDEPENDENT_OF.items():
        assert independent <= set(EVENT_TYPES), (action, independent - set(EVENT_TYPES))


def test_the_process_confirming_an_order_changes_no_decision():
    for action in INDEPENDENT_OF:
        assert still_meant(action, ["OrderConfirmed"]), action


def test_a_note_stops_only_the_forms_that_close_the_order():
    for action in ("note", "add", "quantity", "remove", "address"):
        assert still_meant(action, ["NoteAdded"]), action
    for action in ("ship", "cancel"):  # "hold", "call first": a person reads it first
        assert not still_meant(action, ["NoteAdded"]), action


def test_a_note_still_stands_whatever_happened():
    assert still_meant("note", list(EVENT_TYPES))


def test_what_is_shipped_and_where_must_be_what_the_page_showed():
    lines = ("ItemAdded", "ItemRemoved", "LineQuantityChanged", "LineRejected")
    for change in (*lines, "ShippingAddressChanged"):
        assert not still_meant("ship", ["OrderConfirmed", change]), change


def test_a_closed_order_or_another_address_stops_the_forms_it_concerns():
    for action in ("add", "quantity", "remove", "address", "cancel", "ship"):
        assert not still_meant(action, ["OrderShipped"])
        assert not still_meant(action, ["OrderCancelled"])
    assert not still_meant("address", ["ShippingAddressChanged"])
    assert not still_meant("cancel", ["ShippingAddressChanged"])
    assert still_meant("address", ["ItemAdded", "LineRejected"])


def test_an_unknown_form_goes_past_nothing():
    assert not still_meant("refund", ["NoteAdded"])
    assert still_meant("refund", [])


def test_a_catalogue_row_goes_past_only_what_it_does_not_depend_on():
    from orders.domain.commuting import product_still_meant

    assert product_still_meant("price", ["ProductRenamed", "ProductRenamed"])
    assert product_still_meant("rename", ["ProductPriceChanged"])
    assert product_still_meant("discontinue", ["ProductRenamed", "ProductPriceChanged"])
    assert not product_still_meant("price", ["ProductRenamed", "ProductPriceChanged"])
    assert not product_still_meant("rename", ["ProductRenamed"])
    assert not product_still_meant("reactivate", ["ProductDiscontinued"])
    assert not product_still_meant("unknown", ["ProductRenamed"])

"""The catalogue (Product) and the order rules it brings, as given events /
when command / then events or error: pricing lines from the catalogue,
price overrides, changing a line's quantity, rejecting a line for stock,
internal notes; with properties over many cases (Hypothesis)."""

import uuid

import pytest
from hypothesis import given as hgiven
from hypothesis import settings
from hypothesis import strategies as st

from orders.domain import (
    CataloguePrice,
    InvalidOrderDataError,
    Line,
    LineNotFoundError,
    LineQuantityChanged,
    LineRejected,
    LineRequest,
    NoteAdded,
    OrderAggregate,
    OrderClosedError,
    OrderNotFoundError,
    OrderPlaced,
    OrderShipped,
    PriceChangedError,
    Product,
    ProductDiscontinuedError,
    ProductExistsError,
    ProductNotFoundError,
    UnknownSkuError,
)
from orders.domain.errors import LastLineRemovalError, LineProblems, PriceMismatchError
from orders.domain.inventory import inventory_id
from orders.domain.pricing import merged_over_limit
from orders.domain.product import (
    ProductAdded,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductReactivated,
    ProductRenamed,
    product_id,
)

ADDED = ProductAdded(sku="WIDGET-A", name="Widget", description="", price_cents=1999, active=True)
CATALOGUE = {
    "WIDGET-A": CataloguePrice("WIDGET-A", "Widget", 1999, True),
    "GADGET-B": CataloguePrice("GADGET-B", "Gadget", 500, True),
    "OLD-9": CataloguePrice("OLD-9", "Old thing", 100, False),
}


def product(*events) -> Product:
    return Product.from_history("WIDGET-A", list(events))


def order(*events) -> OrderAggregate:
    return OrderAggregate.from_history(uuid.uuid4(), list(events))


# -- Product ---------------------------------------------------------------------------


def test_adding_a_product_records_its_name_description_price_and_that_it_is_sold():
    p = Product("WIDGET-A")
    p.add(" Widget ", 1999, "Blue")
    assert p.pending == [
        ProductAdded(sku="WIDGET-A", name="Widget", description="Blue", price_cents=1999, active=True)
    ]
    assert p.catalogue_price == CataloguePrice("WIDGET-A", "Widget", 1999, True)


def test_a_product_is_added_once_and_changed_only_once_it_exists():
    with pytest.raises(ProductExistsError):
        product(ADDED).add("Again", 1)
    for change in (
        lambda p: p.change_price(1),
        lambda p: p.rename("x"),
        Product.discontinue,
        Product.reactivate,
    ):
        with pytest.raises(ProductNotFoundError):
            change(Product("NEW-1"))


@pytest.mark.parametrize(
    ("name", "price", "field"),
    [
        ("", 1, "name"),
        ("x" * 121, 1, "name"),
        ("ok", -1, "price_cents"),
        ("ok", 10_000_001, "price_cents"),
        ("Desk\tlamp", 1, "name"),  # one line: no tabs, no line breaks
        ("Desk\nlamp", 1, "name"),
        ("x\u0007y", 1, "name"),  # a bell
        ("lamp \u202egpj.exe", 1, "name"),  # reads backwards from there
    ],
)
def test_invalid_product_values_are_refused(name, price, field):
    with pytest.raises(InvalidOrderDataError) as err:
        Product("NEW-1").add(name, price)
    assert err.value.field == field


def test_price_rename_discontinue_reactivate_record_a_change_and_repeating_it_records_nothing():
    p = product(ADDED)
    p.change_price(2199)
    p.change_price(2199)
    p.rename("Widget XL")
    p.rename("Widget XL")
    p.discontinue()
    p.discontinue()
    p.reactivate()
    p.reactivate()
    assert p.pending == [
        ProductPriceChanged(sku="WIDGET-A", old_price_cents=1999, price_cents=2199),
        ProductRenamed(sku="WIDGET-A", name="Widget XL", description=""),
        ProductDiscontinued(sku="WIDGET-A"),
        ProductReactivated(sku="WIDGET-A"),
    ]
    assert product(ADDED, *p.pending).state() == p.state()


def test_product_streams_have_their_own_ids_apart_from_inventory():
    assert product_id("WIDGET-A") == product_id("WIDGET-A") != inventory_id("WIDGET-A")


# -- pricing from the catalogue ------------------------------------------------------------


def test_lines_are_charged_the_catalogue_price_which_the_event_records():
    o = OrderAggregate(uuid.uuid4())
    o.place("c1", [LineRequest("WIDGET-A", 2), LineRequest("GADGET-B", 1, 500)], catalogue=CATALOGUE)
    [placed] = o.pending
    assert placed.items == (Line("WIDGET-A", 2, 1999, 1999, None), Line("GADGET-B", 1, 500, 500, None))
    assert placed.total_cents == 4498


def test_a_stated_price_that_is_not_the_catalogues_is_refused_with_the_current_prices():
    o = OrderAggregate(uuid.uuid4())
    with pytest.raises(PriceChangedError) as err:
        o.place(
            "c1", [LineRequest("WIDGET-A", 1, 1899), LineRequest("GADGET-B", 1, 400)], catalogue=CATALOGUE
        )
    assert err.value.current == {"WIDGET-A": 1999, "GADGET-B": 500}
    assert err.value.stated == {"WIDGET-A": 1899, "GADGET-B": 400}
    assert o.pending == [] and not o.exists


def test_an_override_reason_charges_the_stated_price_and_is_recorded():
    o = OrderAggregate(uuid.uuid4())
    o.place("c1", [LineRequest("WIDGET-A", 1, 1500, "damaged box")], catalogue=CATALOGUE)
    assert o.pending[0].items == (Line("WIDGET-A", 1, 1500, 1999, "damaged box"),)
    same = OrderAggregate(uuid.uuid4())
    same.place("c1", [LineRequest("WIDGET-A", 1, 1999, "nothing to override")], catalogue=CATALOGUE)
    assert same.pending[0].items == (Line("WIDGET-A", 1, 1999, 1999, None),)
    with pytest.raises(InvalidOrderDataError) as err:
        OrderAggregate(uuid.uuid4()).place(
            "c1", [LineRequest("WIDGET-A", 1, None, "why")], catalogue=CATALOGUE
        )
    assert err.value.field == "price_cents"


def test_unknown_and_discontinued_skus_are_refused():
    with pytest.raises(UnknownSkuError) as unknown:
        OrderAggregate(uuid.uuid4()).place("c1", [("TYPO", 1), ("WIDGET-A", 1)], catalogue=CATALOGUE)
    assert unknown.value.skus == ["TYPO"] and unknown.value.field == "sku"
    with pytest.raises(ProductDiscontinuedError):
        OrderAggregate(uuid.uuid4()).place("c1", [("OLD-9", 1)], catalogue=CATALOGUE)
    placed = order(OrderPlaced("c1", (Line("WIDGET-A", 1, 1999),), 1999))
    with pytest.raises(UnknownSkuError):
        placed.add_item("TYPO", 1, catalogue=CATALOGUE)
    with pytest.raises(ProductDiscontinuedError):
        placed.add_item("OLD-9", 1, catalogue=CATALOGUE)
    assert placed.pending == []


def test_every_catalogue_problem_in_the_lines_is_found_before_the_first_is_raised():
    lines = [("TYPO", 1), ("OLD-9", 1), LineRequest("WIDGET-A", 1, 1899), ("NOPE", 2), ("GADGET-B", 1, 500)]
    with pytest.raises(UnknownSkuError) as err:  # the error it always was (the API's answer)...
        OrderAggregate(uuid.uuid4()).place("c1", lines, catalogue=CATALOGUE)
    assert err.value.skus == ["TYPO", "NOPE"] and str(err.value) == "sku: not in the catalogue: TYPO, NOPE"
    assert err.value.problems == LineProblems(  # ...carrying every problem, of every kind
        unknown=("TYPO", "NOPE"),
        discontinued=("OLD-9",),
        stated={"WIDGET-A": 1899},
        current={"WIDGET-A": 1999},
    )
    with pytest.raises(PriceChangedError) as changed:
        OrderAggregate(uuid.uuid4()).place("c1", [LineRequest("WIDGET-A", 1, 1899)], catalogue=CATALOGUE)
    assert changed.value.problems == LineProblems(stated={"WIDGET-A": 1899}, current={"WIDGET-A": 1999})
    assert merged_over_limit([("A", 6000), ("B", 1), ("A", 4000), ("C", 10_000), ("C", 1)]) == {"C": 10_001}


def test_more_units_of_a_sku_on_the_order_join_its_line_at_the_lines_price():
    placed = order(OrderPlaced("c1", (Line("WIDGET-A", 1, 1799, 1799),), 1799))  # cheaper back then
    placed.add_item("WIDGET-A", 2, catalogue=CATALOGUE)
    assert placed.lines["WIDGET-A"] == Line("WIDGET-A", 3, 1799, 1799)
    with pytest.raises(PriceMismatchError):
        placed.add_item("WIDGET-A", 1, 1999, catalogue=CATALOGUE)


# -- quantity, rejection, notes -------------------------------------------------------------

PLACED = OrderPlaced(
    "c1", (Line("WIDGET-A", 2, 1999), Line("GADGET-B", 1, 500)), 4498, requires_confirmation=True
)


def test_changing_a_quantity_records_old_and_new_and_the_new_total():
    o = order(PLACED)
    o.change_quantity("WIDGET-A", 5)
    o.change_quantity("WIDGET-A", 5)  # the same: nothing
    assert o.pending == [LineQuantityChanged("WIDGET-A", 2, 5, 1999, 5 * 1999 + 500)]
    assert o.status == "placed"
    with pytest.raises(LineNotFoundError):
        o.change_quantity("NOPE", 1)
    with pytest.raises(InvalidOrderDataError):
        o.change_quantity("WIDGET-A", 0)
    with pytest.raises(OrderClosedError):
        order(PLACED, OrderShipped(None, None)).change_quantity("WIDGET-A", 1)


def test_rejecting_units_of_a_line_takes_them_off_the_order():
    o = order(PLACED)
    o.reject_line("WIDGET-A", 1, "out of stock: WIDGET-A (wanted 2, 1 available)")
    o.reject_line("GADGET-B", 5, "out of stock: GADGET-B (wanted 1, 0 available)")  # at most the line
    assert o.pending == [
        LineRejected("WIDGET-A", 1, 1, 1999, "out of stock: WIDGET-A (wanted 2, 1 available)", 1999 + 500),
        LineRejected("GADGET-B", 1, 0, 500, "out of stock: GADGET-B (wanted 1, 0 available)", 1999),
    ]
    assert list(o.lines) == ["WIDGET-A"] and o.lines["WIDGET-A"].quantity == 1
    with pytest.raises(LastLineRemovalError):
        o.reject_line("WIDGET-A", 1, "out of stock")


def test_notes_are_recorded_on_an_order_in_any_state():
    shipped = order(PLACED, OrderShipped("DHL", None))
    shipped.add_note("  left with the neighbour ")
    assert shipped.pending == [NoteAdded("left with the neighbour")]
    with pytest.raises(InvalidOrderDataError):
        shipped.add_note("   ")
    with pytest.raises(OrderNotFoundError):
        OrderAggregate(uuid.uuid4()).add_note("x")


# -- properties --------------------------------------------------------------------------------

skus = st.sampled_from(["WIDGET-A", "GADGET-B", "OLD-9", "TYPO"])
requests = st.builds(
    LineRequest,
    skus,
    st.integers(min_value=1, max_value=50),
    st.one_of(st.none(), st.sampled_from([0, 500, 1999, 2500])),
    st.one_of(st.none(), st.just("a reason")),
)


@settings(max_examples=300, deadline=None)
@hgiven(st.lists(requests, min_size=1, max_size=5))
def test_a_placed_line_is_at_the_catalogue_price_unless_an_override_says_why(items):
    o = OrderAggregate(uuid.uuid4())
    try:
        o.place("c1", items, catalogue=CATALOGUE)
    except (
        UnknownSkuError,
        ProductDiscontinuedError,
        PriceChangedError,
        InvalidOrderDataError,
        PriceMismatchError,
    ):
        assert o.pending == [] and not o.exists
        return
    [placed] = o.pending
    for line in placed.items:
        assert line.catalogue_price_cents == CATALOGUE[line.sku].price_cents
        assert CATALOGUE[line.sku].active
        if line.override_reason is None:
            assert line.price_cents == line.catalogue_price_cents
        else:
            assert line.price_cents != line.catalogue_price_cents
    assert placed.total_cents == sum(line.total_cents for line in placed.items)


changes = st.one_of(
    st.tuples(st.just("quantity"), st.sampled_from(["WIDGET-A", "GADGET-B"]), st.integers(1, 30)),
    st.tuples(st.just("reject"), st.sampled_from(["WIDGET-A", "GADGET-B"]), st.integers(1, 30)),
    st.tuples(st.just("note"), st.just(""), st.integers(1, 3)),
)


@settings(max_examples=200, deadline=None)
@hgiven(st.lists(changes, max_size=12))
def test_replaying_the_recorded_events_rebuilds_the_same_order_and_totals_add_up(steps):
    o = order(PLACED)
    for kind, sku, n in steps:
        try:
            if kind == "quantity":
                o.change_quantity(sku, n)
            elif kind == "reject":
                o.reject_line(sku, n, "out of stock")
            else:
                o.add_note(f"note {n}")
        except (LineNotFoundError, LastLineRemovalError):
            pass
        assert o.lines, "an order never loses its last line to a rejection"
    replayed = OrderAggregate.from_history(o.id, [PLACED, *o.pending])
    assert replayed.state() == o.state()
    totals = [e.order_total_cents for e in o.pending if hasattr(e, "order_total_cents")]
    if totals:
        assert totals[-1] == o.total_cents

"""Pricing order lines from the catalogue.

A line asks for a SKU and a quantity; its unit price is the catalogue's.
It may state the price the client showed its customer: a different one is
refused (the client's view is stale) unless an override reason is given
(the HTTP edge lets only staff give one), which the line then records.
Every problem the catalogue finds in the lines is found before one is
raised, and the error carries them all (LineProblems).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orders.domain import rules
from orders.domain.errors import InvalidOrderDataError, LineProblems
from orders.domain.events import Line
from orders.domain.product import CataloguePrice

Catalogue = Mapping[str, CataloguePrice]


@dataclass(frozen=True, slots=True)
class LineRequest:
    """What a command asks for: a SKU and a quantity; optionally the unit
    price the client showed, and why a different price is charged."""

    sku: str
    quantity: int
    price_cents: int | None = None
    override_reason: str | None = None


def as_request(item) -> LineRequest:
    """A LineRequest from a request, a Line or an (sku, quantity[, price]) tuple."""
    if isinstance(item, LineRequest):
        return item
    if isinstance(item, Line):
        return LineRequest(item.sku, item.quantity, item.price_cents, item.override_reason)
    return LineRequest(*item)


def check_request(request: LineRequest) -> LineRequest:
    """The request's values checked one by one (the catalogue aside)."""
    stated = None if request.price_cents is None else rules.check_price(request.price_cents)
    reason = rules.check_text(
        "price_override_reason", request.override_reason, rules.MAX_REASON_LENGTH, required=False
    )
    if reason is not None and stated is None:
        raise InvalidOrderDataError("price_cents", "a price override needs the price to charge (price_cents)")
    return LineRequest(rules.check_sku(request.sku), rules.check_quantity(request.quantity), stated, reason)


def catalogue_problems(lines: Iterable[tuple[str, int | None]], catalogue: Catalogue) -> LineProblems:
    """What the catalogue refuses in ``lines``, each a SKU and the unit
    price stated for it (None: none stated, or one charged whatever the
    catalogue says, i.e. an override)."""
    lines = list(lines)
    skus = list(dict.fromkeys(sku for sku, _ in lines))
    stated: dict[str, int] = {}
    current: dict[str, int] = {}
    for sku, price in lines:
        entry = catalogue.get(sku)
        if entry is not None and entry.active and price is not None and price != entry.price_cents:
            stated[sku], current[sku] = price, entry.price_cents
    return LineProblems(
        unknown=tuple(sku for sku in skus if sku not in catalogue),
        discontinued=tuple(sku for sku in skus if sku in catalogue and not catalogue[sku].active),
        stated=stated,
        current=current,
    )


def check_catalogue(skus: Iterable[str], catalogue: Catalogue) -> None:
    """Every SKU is in the catalogue and sold."""
    if problems := catalogue_problems(((sku, None) for sku in skus), catalogue):
        raise problems.error()


def merged_over_limit(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The SKUs whose lines (SKU, quantity) hold more units together than a
    line may (an order joins the lines of a SKU into one), with how many."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        totals[sku] = totals.get(sku, 0) + quantity
    return {sku: total for sku, total in totals.items() if total > rules.MAX_QUANTITY}


def price_lines(requests: list[LineRequest], catalogue: Catalogue | None) -> list[Line]:
    """Each request as a priced line. Without a catalogue (lines decided
    before it existed, and rule tests of other things) the stated price stands."""
    checked = [check_request(r) for r in requests]
    if catalogue is None:
        missing = [r for r in checked if r.price_cents is None]
        if missing:
            raise InvalidOrderDataError("price_cents", "required")
        return [Line(r.sku, r.quantity, r.price_cents) for r in checked]  # type: ignore[arg-type]
    # Every problem is found before one is raised: the error carries them all.
    stated = ((r.sku, r.price_cents if r.override_reason is None else None) for r in checked)
    if problems := catalogue_problems(stated, catalogue):
        raise problems.error()
    lines = []
    for r in checked:
        now = catalogue[r.sku].price_cents
        if r.price_cents is None or r.price_cents == now:
            lines.append(Line(r.sku, r.quantity, now, now, None))
        else:
            lines.append(Line(r.sku, r.quantity, r.price_cents, now, r.override_reason))
    return lines

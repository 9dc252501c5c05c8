"""Pricing order lines from the catalogue.

A line asks for a SKU and a quantity; its unit price is the catalogue's.
It may state the price the client showed its customer: a different one is
refused (the client's view is stale) unless an override reason is given
(the HTTP edge lets only staff give one), which the line then records.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orders.domain import rules
from orders.domain.errors import (
    InvalidOrderDataError,
    PriceChangedError,
    ProductDiscontinuedError,
    UnknownSkuError,
)
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


def check_catalogue(skus: Iterable[str], catalogue: Catalogue) -> None:
    """Every SKU is in the catalogue and sold."""
    skus = list(dict.fromkeys(skus))
    unknown = [sku for sku in skus if sku not in catalogue]
    if unknown:
        raise UnknownSkuError(unknown)
    discontinued = [sku for sku in skus if not catalogue[sku].active]
    if discontinued:
        raise ProductDiscontinuedError(discontinued)


def price_lines(requests: list[LineRequest], catalogue: Catalogue | None) -> list[Line]:
    """Each request as a priced line. Without a catalogue (lines decided
    before it existed, and rule tests of other things) the stated price stands."""
    checked = [check_request(r) for r in requests]
    if catalogue is None:
        missing = [r for r in checked if r.price_cents is None]
        if missing:
            raise InvalidOrderDataError("price_cents", "required")
        return [Line(r.sku, r.quantity, r.price_cents) for r in checked]  # type: ignore[arg-type]
    check_catalogue((r.sku for r in checked), catalogue)
    stated, current = {}, {}
    for r in checked:
        now = catalogue[r.sku].price_cents
        if r.price_cents is not None and r.price_cents != now and r.override_reason is None:
            stated[r.sku], current[r.sku] = r.price_cents, now
    if current:
        raise PriceChangedError(stated, current)
    lines = []
    for r in checked:
        now = catalogue[r.sku].price_cents
        if r.price_cents is None or r.price_cents == now:
            lines.append(Line(r.sku, r.quantity, now, now, None))
        else:
            lines.append(Line(r.sku, r.quantity, r.price_cents, now, r.override_reason))
    return lines

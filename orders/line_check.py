"""The place-order form's lines against the catalogue, every problem at
once. The command finds them all before it refuses the order, and its
error carries them (orders.domain.errors.LineProblems); a form it cannot
run for yet (a row lacks a quantity, the customer id is malformed) has its
rows' SKUs checked the same way, appending nothing. Either way they are
kept with the refused form (orders.prg) and each row shows what concerns
it (orders.forms.PlaceOrderForm)."""

from orders.domain.errors import LineProblems
from orders.domain.pricing import catalogue_problems
from orders.forms import changed_prices
from orders.repository import ProductRepository


def problems_of(lines: list[tuple[str, int | None]]) -> LineProblems:
    """What placing ``lines`` (SKU, the price the row showed) would meet in
    the catalogue, read as the command reads it (the products' streams)."""
    if not lines:
        return LineProblems()
    return catalogue_problems(lines, ProductRepository().catalogue(sku for sku, _ in lines))


def kept(problems: LineProblems) -> dict:
    """The problems as kept with the refused form: ``prices`` (SKU ->
    [shown, now]) and ``skus`` (those unknown, those discontinued)."""
    state: dict = {"prices": changed_prices(problems)} if problems.current else {}
    refused = {"unknown": list(problems.unknown), "discontinued": list(problems.discontinued)}
    if any(refused.values()):
        state["skus"] = {kind: skus for kind, skus in refused.items() if skus}
    return state

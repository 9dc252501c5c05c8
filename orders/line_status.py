"""What the order page says about each line and about the order's stock, in
the shop's words: reserved, waiting for stock, rejected (out of stock), and
the confirmation after placing an order that tells the truth."""

from django.conf import settings
from django.contrib import messages

from orders.models import FulfilmentProcess
from projections import selectors


def placed_message(request) -> None:
    """The note shown after placing an order. While its stock is being
    reserved it says so (not a green "done" over a problem to come); the
    page then reports what became of each line."""
    if settings.INVENTORY_RESERVATION:
        messages.info(request, "Order placed; reserving stock for its lines…")
    else:
        messages.success(request, "Order placed.")


def _state(order, line, process_line) -> tuple[str, str]:
    """(state, words) of one line: its badge class and what to say."""
    if line.status == "rejected":
        return "rejected", f"Rejected: {line.rejection_reason}"
    if order.status == "shipped":
        return "shipped", "Shipped"
    if order.status == "cancelled":
        return "cancelled", "Cancelled"
    if process_line is None:
        if order.requires_confirmation:
            return "waiting", "Waiting for stock"
        return "none", ""
    if process_line["reserved"] >= process_line["wanted"]:
        return "reserved", "Reserved"
    if process_line.get("refused"):
        return "short", f"Out of stock: {process_line.get('shortage') or line.sku}"
    return "waiting", "Waiting for stock"


def line_context(order, lines) -> dict:
    """Each line with its product name and stock state, the lines rejected
    for stock, and a sentence about them for the top of the page."""
    if order is None:
        return {"line_rows": [], "rejected_lines": [], "stock_problem": None}
    process = FulfilmentProcess.objects.filter(order_id=order.order_id).first()
    process_lines = process.lines if process else {}
    names = {sku: p.name for sku, p in selectors.products_by_sku(ln.sku for ln in lines).items()}
    rows, rejected = [], []
    for line in lines:
        state, words = _state(order, line, process_lines.get(line.sku))
        if line.status == "active" and line.rejected_quantity:
            words = f"{words}; {line.rejected_quantity} unit(s) rejected: {line.rejection_reason}".lstrip(
                "; "
            )
        row = {"line": line, "name": names.get(line.sku, ""), "state": state, "words": words}
        (rejected if line.status == "rejected" else rows).append(row)
    partly = [r for r in rows if r["line"].rejected_quantity]
    problem = None
    if rejected or partly:
        count = len(rejected) + len(partly)
        reasons = "; ".join(r["line"].rejection_reason for r in [*rejected, *partly])
        problem = f"{count} line{'s' if count > 1 else ''} could not be reserved in full: {reasons}."
    return {"line_rows": rows, "rejected_lines": rejected, "stock_problem": problem}

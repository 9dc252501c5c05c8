"""What the order page says about each line and about the order's stock, in
the shop's words: reserved, waiting for stock, rejected (out of stock), and
the confirmation after placing an order that tells the truth."""

from django.conf import settings
from django.contrib import messages

from orders.models import FulfilmentProcess
from projections import selectors

PLACED_KEY = "orders:just-placed"


def remember_placed(request, order_id) -> None:
    """Note that this browser just placed ``order_id``: the order page then
    says so once, in words that match what it shows (see placed_message)."""
    request.session[PLACED_KEY] = str(order_id)


def placed_message(request, order_id, context: dict) -> None:
    """The note shown on the first view of an order just placed from this
    browser, decided when the page is drawn so it never contradicts it: while
    its stock is being reserved it says so (not a green "done" over a problem
    to come); once the answer is in (projections in the web process give it
    before the page loads) it says what it was."""
    if request.session.get(PLACED_KEY) != str(order_id):
        return
    del request.session[PLACED_KEY]
    order = context["order"]
    if not settings.INVENTORY_RESERVATION or (order and not order.requires_confirmation):
        messages.success(request, "Order placed.")
    elif order is None or order.status == "placed":
        messages.info(request, "Order placed; reserving stock for its lines…")
    elif order.status == "cancelled":
        messages.warning(request, f"Order placed, but it was cancelled: {order.cancel_reason}.")
    elif context["stock_problem"]:
        messages.info(request, "Order placed.")  # the stock problem is said just below
    else:
        messages.success(request, "Order placed; stock is reserved for every line.")


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

"""What an event did, in one line of words: the order's history, its trace
and the messages of stale forms say it the same way."""

import re

from config.money import format_money as cents


def event_summary(event) -> str:
    """One line saying what an order event did."""
    d = event.data
    match event.event_type:
        case "OrderPlaced":
            lines = len(d["items"])
            text = (
                f"Placed for {d['customer_id']}: {lines} line{'s' if lines != 1 else ''}, "
                f"total {cents(d['total_cents'])}"
            )
            text += "".join(_override(item) for item in d["items"])
        case "ItemAdded":
            text = f"Added {d['quantity']} \u00d7 {d['sku']} at {cents(d['price_cents'])}{_override(d)}"
        case "LineQuantityChanged":
            text = f"Quantity of {d['sku']} changed from {d['old_quantity']} to {d['quantity']}"
        case "LineRejected":
            what = "Line rejected" if not d["remaining_quantity"] else f"{d['quantity']} unit(s) rejected"
            text = f"{what}: {d['reason']}"
        case "NoteAdded":
            text = f"Note: {d['text']}"
        case "ItemRemoved":
            text = f"Removed {d['sku']} ({d['quantity']} \u00d7 {cents(d['price_cents'])})"
        case "OrderShipped":
            via = " ".join(x for x in (d.get("carrier"), d.get("tracking_number")) if x)
            text = f"Shipped{' via ' + via if via else ''}"
        case "OrderCancelled":
            text = f"Cancelled: {d['reason']}"
        case "ShippingDetailsGiven":
            text = f"Contact and shipping address given (to {d['city']}, {d['country']})"
        case "ShippingAddressChanged":
            text = f"Shipping address changed (to {d['city']}, {d['country']})"
        case "OrderConfirmed":
            text = "Confirmed: stock reserved for every line"
        case _:  # an event without its own sentence: its name in words ("LineRejected": "Line rejected")
            text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", event.event_type).capitalize()
    return text


def _override(d: dict) -> str:
    """Says when a line was charged another price than the catalogue's, and why."""
    if not d.get("override_reason"):
        return ""
    return (
        f" ({d['sku']}: price overridden from {cents(d['catalogue_price_cents'])}"
        f" to {cents(d['price_cents'])}: {d['override_reason']})"
    )


def stock_summary(event) -> str:
    """One line saying what a stock event did for the order."""
    d = event.data
    match event.event_type:
        case "StockReserved":
            return f"Stock reserved: {d['quantity']} \u00d7 {d['sku']}"
        case "ReservationRefused":
            return f"Out of stock: {d['sku']} (wanted {d['requested']}, {d['available']} available)"
        case "StockReleased":
            return f"Stock released: {d['quantity']} \u00d7 {d['sku']}"
        case "StockShipped":
            return f"Stock left the warehouse: {d['quantity']} \u00d7 {d['sku']}"
    return "Stock changed"


_PRODUCT_CHANGES = {
    "ProductAdded": lambda d: "it was added",
    "ProductPriceChanged": lambda d: f"its price changed to {cents(d['price_cents'])}",
    "ProductRenamed": lambda d: f"it was renamed “{d['name']}”",
    "ProductDiscontinued": lambda d: "it was discontinued",
    "ProductReactivated": lambda d: "it is sold again",
}


def product_changes(events) -> str:
    """What happened to a product, said of it ("it was renamed “Big mug”; ...")."""
    return "; ".join(
        _PRODUCT_CHANGES[e.event_type](e.data) if e.event_type in _PRODUCT_CHANGES else e.event_type
        for e in events
    )

"""Helpers for the read API tests: the fields of an order list row, and
order lines and ids in the API's JSON shape."""

ROW_FIELDS = {
    "order_id",
    "customer_id",
    "status",
    "line_count",
    "item_count",
    "total_cents",
    "placed_at",
    "shipped_at",
    "cancelled_at",
    "version",
}


def line(price_cents: int, sku: str = "SKU-1", quantity: int = 1) -> dict:
    """One order line as the API takes it."""
    return {"sku": sku, "quantity": quantity, "price_cents": price_cents}


def ids(rows) -> list[str]:
    """The order ids of list rows, in their order."""
    return [row["order_id"] for row in rows]

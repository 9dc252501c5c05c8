"""The order read models: order_list (+ order_lines), customer_summary and
daily_sales. Each folds a batch of events into the rows it touches in memory
and writes them back set-based."""

from datetime import date
from uuid import UUID

from eventstore import RecordedEvent
from projections import order_rebuild_sql as order_sql
from projections.base import Projection, ProjectionError
from projections.models import (
    CustomerOrder,
    CustomerSummary,
    DailySales,
    DailySalesOrder,
    InventoryLevel,
    OrderLine,
    OrderSummary,
)
from projections.order_events import INVENTORY_EVENTS, LINE_CHANGES, ORDER_EVENTS
from projections.product_projection import ProductCatalogueProjection
from projections.set_based import SetBased
from projections.tables import Tables


def _check_sequence(row: dict | None, event: RecordedEvent, projection: str) -> bool:
    """True if the event is new for this row; False if already applied.
    Refuses events for unknown orders and version gaps."""
    if row is None:
        if event.event_type != "OrderPlaced":
            raise ProjectionError(f"{projection}: {event.event_type} v{event.version} for unknown order")
        return True
    if event.version <= row["version"]:
        return False
    if event.version != row["version"] + 1:
        raise ProjectionError(
            f"{projection}: order {event.aggregate_id} jumps from v{row['version']} to v{event.version}"
        )
    return True


class OrderListProjection(Projection):
    name = "order_list"
    description = "One row per order with its lines, for the order pages and GET /api/orders/."
    event_types = ORDER_EVENTS
    models = {"order_list": OrderSummary, "order_lines": OrderLine}
    group_keys = {"order_list": "order_id", "order_lines": "order_id"}
    supports_inline = True  # every row belongs to one order
    rebuild_weight = 2  # two tables, a row per line
    set_based = SetBased(
        order_sql.VERSIONS,
        order_sql.ORDER_LIST,
        shared=order_sql.SHARED,
        checks=(order_sql.CHECK,),
        replay=order_sql.ORDER_LIST_REPLAY,
    )

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        ids = {e.aggregate_id for e in events}
        orders = {row["order_id"]: row for row in tables.fetch("order_list", "order_id", ids)}
        lines: dict[UUID, dict[str, dict]] = {}
        for row in tables.fetch("order_lines", "order_id", ids):
            lines.setdefault(row["order_id"], {})[row["sku"]] = row
        changed_orders: dict[UUID, int] = {}  # events applied to each order
        changed_lines: set[UUID] = set()
        for e in events:
            oid, d = e.aggregate_id, e.data
            row = orders.get(oid)
            if not _check_sequence(row, e, self.name):
                continue
            if e.event_type == "OrderPlaced":
                order_lines = {
                    item["sku"]: _line(oid, item, item["quantity"], n)
                    for n, item in enumerate(d["items"], start=1)
                }
                lines[oid] = order_lines
                row = orders[oid] = {
                    "order_id": oid,
                    "customer_id": d["customer_id"],
                    "status": "placed",
                    "total_cents": d["total_cents"],
                    "placed_at": e.created_at,
                    "shipped_at": None,
                    "cancelled_at": None,
                    "cancel_reason": "",
                    "carrier": "",
                    "tracking_number": "",
                    "requires_confirmation": d["requires_confirmation"],
                }
                changed_lines.add(oid)
            elif e.event_type == "ItemAdded":
                order_lines = lines.setdefault(oid, {})
                current = order_lines.get(d["sku"])
                if current is not None and current["status"] == "rejected":
                    current = None  # a rejected SKU added again is a new line
                quantity = d["quantity"] + (current["quantity"] if current else 0)
                line_no = (
                    current["line_no"]
                    if current
                    else max((ln["line_no"] for ln in order_lines.values()), default=0) + 1
                )
                order_lines[d["sku"]] = _line(oid, d, quantity, line_no, current)
                if row["requires_confirmation"]:
                    row["status"] = "placed"  # the added units wait for stock
                changed_lines.add(oid)
            elif e.event_type == "LineQuantityChanged":
                line = lines[oid][d["sku"]]
                line.update(quantity=d["quantity"], line_total_cents=d["quantity"] * line["price_cents"])
                if row["requires_confirmation"] and d["quantity"] > d["old_quantity"]:
                    row["status"] = "placed"  # the extra units wait for stock
                changed_lines.add(oid)
            elif e.event_type == "LineRejected":
                line = lines[oid][d["sku"]]
                line.update(
                    quantity=d["remaining_quantity"],
                    line_total_cents=d["remaining_quantity"] * line["price_cents"],
                    rejected_quantity=line["rejected_quantity"] + d["quantity"],
                    rejection_reason=d["reason"],
                    status="active" if d["remaining_quantity"] else "rejected",
                )
                changed_lines.add(oid)
            elif e.event_type == "ItemRemoved":
                lines.get(oid, {}).pop(d["sku"], None)
                changed_lines.add(oid)
            elif e.event_type == "OrderConfirmed":
                row["status"] = "confirmed"
            elif e.event_type == "OrderShipped":
                row.update(
                    status="shipped",
                    shipped_at=e.created_at,
                    carrier=d.get("carrier") or "",
                    tracking_number=d.get("tracking_number") or "",
                )
            elif e.event_type == "OrderCancelled":
                row.update(status="cancelled", cancelled_at=e.created_at, cancel_reason=d["reason"])
            if e.event_type in LINE_CHANGES:
                row["total_cents"] = d["order_total_cents"]
            row["version"], row["last_position"], row["updated_at"] = e.version, e.position, e.created_at
            changed_orders[oid] = changed_orders.get(oid, 0) + 1
        for oid in changed_orders:  # the counts of the lines as the batch left them
            order_lines = lines.get(oid, {}).values()
            orders[oid]["line_count"] = sum(1 for ln in order_lines if ln["status"] == "active")
            orders[oid]["item_count"] = sum(ln["quantity"] for ln in order_lines)
        # Only over an older row: a runner that read it before another one
        # committed a newer version (runners that disagree on
        # PROJECTION_PARTITIONS) leaves it, and its lines, alone. The row's
        # lock orders the line writes of concurrent runners.
        written = tables.upsert_newer("order_list", "order_id", [orders[oid] for oid in changed_orders])
        changed_lines &= written
        if changed_lines:
            tables.delete("order_lines", "order_id", changed_lines)
            tables.insert("order_lines", [ln for oid in changed_lines for ln in lines.get(oid, {}).values()])
        return sum(changed_orders[oid] for oid in written)


def _line(order_id: UUID, item: dict, quantity: int, line_no: int, current: dict | None = None) -> dict:
    """An order_lines row for a line priced as ``item`` says (an OrderPlaced
    item or an ItemAdded, upcast), keeping what ``current`` knew of rejections."""
    return {
        "order_id": order_id,
        "sku": item["sku"],
        "quantity": quantity,
        "price_cents": item["price_cents"],
        "line_total_cents": quantity * item["price_cents"],
        "line_no": line_no,
        "status": "active",
        "rejected_quantity": current["rejected_quantity"] if current else 0,
        "rejection_reason": current["rejection_reason"] if current else "",
        "catalogue_price_cents": item["catalogue_price_cents"],
        "override_reason": item["override_reason"] or "",
    }


class CustomerSummaryProjection(Projection):
    name = "customer_summary"
    description = "Per customer: orders by status and lifetime value (open and shipped orders)."
    event_types = ORDER_EVENTS
    models = {"customer_summary": CustomerSummary, "customer_orders": CustomerOrder}
    group_keys = {"customer_summary": "customer_id", "customer_orders": "order_id"}
    set_based = SetBased(
        order_sql.VERSIONS,
        (order_sql.CUSTOMER_ORDERS,),
        (order_sql.CUSTOMER_SUMMARY,),
        order_sql.SHARED,
        (order_sql.CHECK,),
    )

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        ids = {e.aggregate_id for e in events}
        orders = {row["order_id"]: row for row in tables.fetch("customer_orders", "order_id", ids)}
        customer_ids = {row["customer_id"] for row in orders.values()}
        customer_ids |= {e.data["customer_id"] for e in events if e.event_type == "OrderPlaced"}
        customers = {
            row["customer_id"]: row for row in tables.fetch("customer_summary", "customer_id", customer_ids)
        }
        changed_orders: set[UUID] = set()
        changed_customers: set[str] = set()
        applied = 0
        for e in events:
            oid, d = e.aggregate_id, e.data
            order = orders.get(oid)
            if not _check_sequence(order, e, self.name):
                continue
            if e.event_type == "OrderPlaced":
                order = orders[oid] = {
                    "order_id": oid,
                    "customer_id": d["customer_id"],
                    "status": "placed",
                    "total_cents": d["total_cents"],
                }
                customer = customers.get(d["customer_id"])
                if customer is None:
                    customer = customers[d["customer_id"]] = {
                        "customer_id": d["customer_id"],
                        "orders_placed": 0,
                        "orders_open": 0,
                        "orders_shipped": 0,
                        "orders_cancelled": 0,
                        "lifetime_total_cents": 0,
                        "first_order_at": e.created_at,
                        "last_order_at": e.created_at,
                    }
                customer["orders_placed"] += 1
                customer["orders_open"] += 1
                customer["lifetime_total_cents"] += d["total_cents"]
                customer["last_order_at"] = max(customer["last_order_at"], e.created_at)
                customer["first_order_at"] = min(customer["first_order_at"], e.created_at)
            else:
                customer = customers[order["customer_id"]]
                if e.event_type in LINE_CHANGES:
                    customer["lifetime_total_cents"] += d["order_total_cents"] - order["total_cents"]
                    order["total_cents"] = d["order_total_cents"]
                elif e.event_type == "OrderShipped":
                    order["status"] = "shipped"
                    customer["orders_open"] -= 1
                    customer["orders_shipped"] += 1
                elif e.event_type == "OrderCancelled":
                    order["status"] = "cancelled"
                    customer["orders_open"] -= 1
                    customer["orders_cancelled"] += 1
                    customer["lifetime_total_cents"] -= order["total_cents"]
            order["version"] = e.version
            changed_orders.add(oid)
            changed_customers.add(order["customer_id"])
            applied += 1
        tables.upsert("customer_orders", ["order_id"], [orders[o] for o in changed_orders])
        tables.upsert("customer_summary", ["customer_id"], [customers[c] for c in changed_customers])
        return applied


class DailySalesProjection(Projection):
    name = "daily_sales"
    description = (
        "Per UTC day: orders placed, shipped and cancelled, booked value (at placement, less lines "
        "rejected for stock that day) and revenue (shipped)."
    )
    event_types = ORDER_EVENTS
    models = {"daily_sales": DailySales, "sales_orders": DailySalesOrder}
    group_keys = {"daily_sales": "day", "sales_orders": "order_id"}
    set_based = SetBased(
        order_sql.VERSIONS,
        (order_sql.SALES_ORDERS,),
        (order_sql.DAILY_SALES,),
        order_sql.SHARED,
        (order_sql.CHECK,),
    )

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        ids = {e.aggregate_id for e in events}
        orders = {row["order_id"]: row for row in tables.fetch("sales_orders", "order_id", ids)}
        days_needed = {e.created_at.date() for e in events}
        days = {row["day"]: row for row in tables.fetch("daily_sales", "day", days_needed)}
        changed_orders: set[UUID] = set()
        changed_days: set[date] = set()
        applied = 0
        for e in events:
            oid, d = e.aggregate_id, e.data
            order = orders.get(oid)
            if not _check_sequence(order, e, self.name):
                continue
            day_key = e.created_at.date()
            day = days.get(day_key)
            if day is None:
                day = days[day_key] = {
                    "day": day_key,
                    "orders_placed": 0,
                    "orders_shipped": 0,
                    "orders_cancelled": 0,
                    "booked_cents": 0,
                    "revenue_cents": 0,
                }
            if e.event_type == "OrderPlaced":
                order = orders[oid] = {"order_id": oid, "total_cents": d["total_cents"]}
                day["orders_placed"] += 1
                day["booked_cents"] += d["total_cents"]
                changed_days.add(day_key)
            elif e.event_type in LINE_CHANGES:
                if e.event_type == "LineRejected":
                    # Units that could not be reserved were never really booked.
                    day["booked_cents"] -= order["total_cents"] - d["order_total_cents"]
                    changed_days.add(day_key)
                order["total_cents"] = d["order_total_cents"]
            elif e.event_type == "OrderShipped":
                day["orders_shipped"] += 1
                day["revenue_cents"] += order["total_cents"]
                changed_days.add(day_key)
            elif e.event_type == "OrderCancelled":
                day["orders_cancelled"] += 1
                changed_days.add(day_key)
            order["version"] = e.version
            changed_orders.add(oid)
            applied += 1
        tables.upsert("sales_orders", ["order_id"], [orders[o] for o in changed_orders])
        tables.upsert("daily_sales", ["day"], [days[k] for k in changed_days])
        return applied


class InventoryProjection(Projection):
    name = "inventory"
    description = "Per SKU: on hand, reserved and available stock, and refused reservations."
    event_types = INVENTORY_EVENTS
    models = {"levels": InventoryLevel}
    group_keys = {"levels": "sku"}

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        levels = {row["sku"]: row for row in tables.fetch("levels", "sku", {e.data["sku"] for e in events})}
        changed: set[str] = set()
        applied = 0
        for e in events:
            d = e.data
            row = levels.get(d["sku"])
            if row is not None and e.version <= row["version"]:
                continue  # already applied
            if row is None:
                row = levels[d["sku"]] = {
                    "sku": d["sku"],
                    "on_hand": 0,
                    "reserved": 0,
                    "available": 0,
                    "refused": 0,
                }
            if e.event_type == "StockReceived":
                row["on_hand"] = d["on_hand"]
            elif e.event_type == "StockReserved":
                row["reserved"] += d["quantity"]
            elif e.event_type == "ReservationRefused":
                row["refused"] += 1
            elif e.event_type == "StockReleased":
                row["reserved"] -= d["quantity"]
            elif e.event_type == "StockShipped":
                row["reserved"] -= d["quantity"]
                row["on_hand"] -= d["quantity"]
            row.update(available=row["on_hand"] - row["reserved"], version=e.version, updated_at=e.created_at)
            changed.add(d["sku"])
            applied += 1
        tables.upsert("levels", ["sku"], [levels[sku] for sku in changed])
        return applied


ORDER_PROJECTIONS = (
    ProductCatalogueProjection(),
    OrderListProjection(),
    CustomerSummaryProjection(),
    DailySalesProjection(),
    InventoryProjection(),
)

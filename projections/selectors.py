"""Reads over the read-model tables, shared by the REST API and the pages.
They never load aggregates or replay events."""

import base64
import binascii
import difflib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson
from django.db import connection, connections, router
from django.db.models import Q, Sum
from django.db.models.functions import Lower

from eventstore.personal import PersonalData
from eventstore.sql import dialect_for
from projections.models import (
    CatalogueProduct,
    CustomerDetails,
    CustomerSummary,
    DailySales,
    InventoryLevel,
    OrderLine,
    OrderShipping,
    OrderSummary,
)
from projections.shipping_projections import email_key

ORDERINGS = {
    "-placed_at": ("placed_at", True),
    "placed_at": ("placed_at", False),
    "-total": ("total_cents", True),
    "total": ("total_cents", False),
}
STATUSES = ("placed", "confirmed", "shipped", "cancelled")


class InvalidCursorError(ValueError):
    pass


def id_prefix_range(prefix: str) -> tuple[UUID, UUID] | None:
    """The lowest and highest UUIDs starting with ``prefix`` (hex digits,
    dashes ignored, any case), or None when it is not such a prefix."""
    digits = prefix.strip().lower().replace("-", "")
    if not 0 < len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return UUID(digits.ljust(32, "0")), UUID(digits.ljust(32, "f"))


@dataclass(frozen=True)
class OrderFilters:
    """``customer_id`` matches exactly; ``customer_prefix`` the start of the
    customer id, in any case (an index on lower(customer_id) serves it);
    ``order_id_prefix`` the start of the order id (hex digits)."""

    status: str | None = None
    customer_id: str | None = None
    customer_prefix: str | None = None
    order_id_prefix: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    total_min: int | None = None
    total_max: int | None = None
    # The keyed hash of an email (email_lookup): orders given that email.
    email_hash: str | None = None
    # No order at all (a search that found nothing).
    nothing: bool = False

    def apply(self, qs):
        if self.nothing:
            return qs.none()
        if self.email_hash is not None:
            qs = qs.filter(
                order_id__in=OrderShipping.objects.filter(email_hash=self.email_hash).values("order_id")
            )
        if self.status:
            qs = qs.filter(status=self.status)
        if self.customer_id:
            qs = qs.filter(customer_id=self.customer_id)
        if self.customer_prefix:
            qs = qs.annotate(customer_lower=Lower("customer_id")).filter(
                customer_lower__startswith=self.customer_prefix.lower()
            )
        if self.order_id_prefix:
            low, high = id_prefix_range(self.order_id_prefix) or (None, None)
            if low is None:
                return qs.none()
            qs = qs.filter(order_id__gte=low, order_id__lte=high)
        if self.placed_from:
            qs = qs.filter(placed_at__gte=self.placed_from)
        if self.placed_to:
            qs = qs.filter(placed_at__lt=self.placed_to)
        if self.total_min is not None:
            qs = qs.filter(total_cents__gte=self.total_min)
        if self.total_max is not None:
            qs = qs.filter(total_cents__lte=self.total_max)
        return qs


@dataclass
class Page:
    rows: list[OrderSummary]
    next_cursor: str | None
    previous_cursor: str | None


def encode_cursor(value: Any, order_id: UUID, direction: str) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = orjson.dumps([value, str(order_id), direction])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> tuple[Any, UUID, str]:
    try:
        value, order_id, direction = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(order_id, str):
            raise ValueError(order_id)
        order_id = UUID(order_id)
        if direction not in ("n", "p"):
            raise ValueError(direction)
        if field == "placed_at":
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError("naive time")
            value.astimezone(UTC)  # a time at the calendar's edge may not exist in UTC
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise ValueError(value)
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidCursorError("the cursor is not one this list handed out") from exc
    return value, order_id, direction


def order_list(
    filters: OrderFilters = OrderFilters(),
    ordering: str = "-placed_at",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of orders, keyset-paginated on (ordering field, order_id), so
    any page costs the same at a million rows."""
    field, descending = ORDERINGS[ordering]
    qs = filters.apply(OrderSummary.objects.all())
    direction = "n"
    if cursor:
        value, after_id, direction = decode_cursor(cursor, field)
        # Going forward in a descending list means smaller keys, and so on.
        smaller = descending == (direction == "n")
        db_value = OrderSummary._meta.get_field(field).get_db_prep_value(value, connection)
        db_id = OrderSummary._meta.get_field("order_id").get_db_prep_value(after_id, connection)
        qs = qs.extra(
            where=[f"({field}, order_id) {'<' if smaller else '>'} (%s, %s)"], params=[db_value, db_id]
        )
    reverse = direction == "p"
    order_desc = descending != reverse
    qs = qs.order_by(f"-{field}" if order_desc else field, "-order_id" if order_desc else "order_id")
    rows = list(qs[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()
    if not rows:
        return Page([], None, None)
    first, last = rows[0], rows[-1]
    more_after = has_more if not reverse else True
    more_before = bool(cursor) if not reverse else has_more
    return Page(
        rows,
        encode_cursor(getattr(last, field), last.order_id, "n") if more_after else None,
        encode_cursor(getattr(first, field), first.order_id, "p") if more_before else None,
    )


def iter_orders(filters: OrderFilters, ordering: str = "-placed_at", batch: int = 1000):
    """Every order matching ``filters``, in ``ordering``, read a keyset page
    of ``batch`` rows at a time (an export of any size in bounded memory)."""
    cursor = None
    while True:
        page = order_list(filters, ordering, cursor, batch)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def order_get(order_id: UUID) -> tuple[OrderSummary, list[OrderLine]] | None:
    order = OrderSummary.objects.filter(order_id=order_id).first()
    if order is None:
        return None
    return order, list(OrderLine.objects.filter(order_id=order_id).order_by("line_no"))


def order_summary(order_id: UUID) -> OrderSummary | None:
    return OrderSummary.objects.filter(order_id=order_id).first()


def order_ids_between(low: UUID, high: UUID, limit: int) -> list[UUID]:
    """Ids of orders in the read model from ``low`` to ``high`` (a prefix search)."""
    qs = OrderSummary.objects.filter(order_id__gte=low, order_id__lte=high).order_by("order_id")
    return list(qs.values_list("order_id", flat=True)[:limit])


def order_count_estimate(filters: OrderFilters) -> tuple[int, bool]:
    """(count, exact): exact up to 10,000 matches; beyond that, PostgreSQL's
    row estimate for the query, which costs nothing at a million rows."""
    qs = filters.apply(OrderSummary.objects.all())
    if connection.vendor != "postgresql":
        return qs.count(), True
    bounded = qs[:10_001].count()
    if bounded <= 10_000:
        return bounded, True
    sql, params = qs.values("order_id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), bounded), False


def customer_get(customer_id: str) -> CustomerSummary | None:
    return CustomerSummary.objects.filter(customer_id=customer_id).first()


def email_lookup(email: str) -> str:
    """What the order list filters on for an email (exact, case-insensitive):
    its keyed hash; one that matches nothing when nothing was ever hashed."""
    return PersonalData().lookup_hash(email_key(email), create=False) or "-"


def order_shipping(order_id: UUID) -> OrderShipping | None:
    """The order's contact and shipping address (personal data), if it has any."""
    return OrderShipping.objects.filter(order_id=order_id).first()


def customer_details(customer_id: str) -> CustomerDetails | None:
    """The customer's latest contact and shipping address (personal data)."""
    return CustomerDetails.objects.filter(customer_id=customer_id).first()


def customer_suggestions(prefix: str, limit: int = 10) -> list[CustomerDetails]:
    """Customers (not forgotten) whose id starts with ``prefix``, in any case
    (an index on lower(customer_id) serves it), with their contact and
    address: what the place-order form offers while a customer id is typed."""
    if not prefix:
        return []
    return list(
        CustomerDetails.objects.annotate(customer_lower=Lower("customer_id"))
        .filter(customer_lower__startswith=prefix.lower(), erased=False)
        .order_by("customer_lower", "customer_id")[:limit]
    )


def order_ids_of(customer_id: str, limit: int = 100) -> list[UUID]:
    """The customer's orders, the latest first (order_list_customer_idx)."""
    rows = OrderSummary.objects.filter(customer_id=customer_id).order_by("-placed_at", "-order_id")
    return list(rows.values_list("order_id", flat=True)[:limit])


# One prepared statement (every new customer's first order asks it): a row
# per customer in each table, lower(customer_id) indexed in both; an erasure
# recorded for an id that never ordered is not a customer.
_SPELLED_OTHERWISE = (
    "SELECT customer_id FROM customer_summary WHERE lower(customer_id) = lower(%s)"
    " UNION SELECT customer_id FROM customer_details WHERE lower(customer_id) = lower(%s) AND NOT erased"
    " LIMIT 10"
)


def customer_spelled_otherwise(customer_id: str) -> str | None:
    """A known customer (with orders, or details on file) whose id differs
    from ``customer_id`` only in case; None when there is none, or when
    ``customer_id`` itself is known. Customer ids are case-sensitive."""
    db = connections[router.db_for_read(CustomerSummary) or "default"]
    known = {row[0] for row in dialect_for(db).fetch(db, _SPELLED_OTHERWISE, [customer_id, customer_id])}
    return None if not known or customer_id in known else min(known)


def daily_sales(start: date | None = None, end: date | None = None) -> list[DailySales]:
    qs = DailySales.objects.order_by("day")
    if start:
        qs = qs.filter(day__gte=start)
    if end:
        qs = qs.filter(day__lte=end)
    return list(qs)


def status_counts() -> dict[str, int]:
    """Orders by status, from customer_summary (cheap at any size)."""
    totals = CustomerSummary.objects.aggregate(
        placed=Sum("orders_open"), shipped=Sum("orders_shipped"), cancelled=Sum("orders_cancelled")
    )
    return {k: v or 0 for k, v in totals.items()}


def inventory_list(
    sku: str | None = None, available_max: int | None = None, after: str | None = None, limit: int = 100
) -> list[InventoryLevel]:
    """Stock levels by SKU, keyset-paginated on the SKU."""
    qs = InventoryLevel.objects.order_by("sku")
    if sku:
        qs = qs.filter(sku=sku)
    if available_max is not None:
        qs = qs.filter(available__lte=available_max)
    if after:
        qs = qs.filter(sku__gt=after)
    return list(qs[:limit])


def product_list(
    q: str | None = None, active: bool | None = None, after: str | None = None, limit: int = 100
) -> list[CatalogueProduct]:
    """Catalogue products by SKU, keyset-paginated on the SKU; ``q`` matches
    the start of the SKU or any part of the name, case-insensitively."""
    qs = CatalogueProduct.objects.order_by("sku")
    if q:
        q = unicodedata.normalize("NFC", q)  # as names are stored (orders.domain.rules)
        qs = qs.filter(Q(sku__istartswith=q) | Q(name__icontains=q))
    if active is not None:
        qs = qs.filter(active=active)
    if after:
        qs = qs.filter(sku__gt=after)
    return list(qs[:limit])


def product_sku_in_another_case(sku: str) -> str | None:
    """The catalogue's SKU that is ``sku`` in another case (None if none)."""
    same = CatalogueProduct.objects.filter(sku__iexact=sku).exclude(sku=sku)
    return same.order_by("sku").values_list("sku", flat=True).first()


def product_sku_like(sku: str) -> str | None:
    """The catalogue's SKU that ``sku`` was probably meant to be: the same in
    another case, else the closest of those starting alike (a letter left
    out or swapped: WIDGT-A, WIDEGT-A); None if nothing is that close."""
    if (found := product_sku_in_another_case(sku)) is not None:
        return found
    alike = CatalogueProduct.objects.filter(sku__istartswith=sku[:2]).exclude(sku=sku)
    skus = {s.upper(): s for s in alike.order_by("sku").values_list("sku", flat=True)[:2000]}
    close = difflib.get_close_matches(sku.upper(), list(skus), n=1, cutoff=0.8)
    return skus[close[0]] if close else None


def product_get(sku: str) -> CatalogueProduct | None:
    return CatalogueProduct.objects.filter(sku=sku).first()


def products_by_sku(skus) -> dict[str, CatalogueProduct]:
    return {p.sku: p for p in CatalogueProduct.objects.filter(sku__in=list(skus))}

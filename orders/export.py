"""The order list as CSV: the same filters, ordering and permission as the
page, every matching order (not one page), streamed as it is read."""

import csv
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from orders.listing import list_query
from projections import selectors

COLUMNS = (
    "order_id",
    "customer_id",
    "status",
    "lines",
    "items",
    "total",
    "currency",
    "placed_at",
    "shipped_at",
    "cancelled_at",
    "carrier",
    "tracking_number",
    "cancel_reason",
)
MINOR_UNIT_DIGITS = 2  # amounts are stored in minor units (cents)
BATCH = 1000  # orders read per query (a keyset page)


class _Echo:
    """A file-like object whose ``write`` hands back what it was given, so
    csv.writer produces one encoded line at a time."""

    def write(self, value: str) -> str:
        return value


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(minor_units: int) -> str:
    return str(Decimal(minor_units).scaleb(-MINOR_UNIT_DIGITS))


def _guard(value: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _rows(orders, currency: str):
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for o in orders:
        yield writer.writerow(
            (
                str(o.order_id),
                _guard(o.customer_id),
                o.status,
                o.line_count,
                o.item_count,
                _amount(o.total_cents),
                currency,
                _utc(o.placed_at),
                _utc(o.shipped_at),
                _utc(o.cancelled_at),
                _guard(o.carrier),
                _guard(o.tracking_number),
                _guard(o.cancel_reason),
            )
        )


@login_required
@require_GET
def order_export(request: HttpRequest) -> HttpResponse:
    """``GET /orders/export.csv?<the list's filters>``: the filtered list as
    CSV. Filters the page would refuse send the user back to it (it shows
    why)."""
    query = list_query(request.GET, jump=False)
    if not query.valid:
        return redirect(f"{reverse('order-list')}?{request.GET.urlencode()}")
    currency = getattr(settings, "SHOP_CURRENCY", "EUR")
    orders = selectors.iter_orders(query.filters, query.ordering, batch=BATCH)
    response = StreamingHttpResponse(_rows(orders, currency), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response

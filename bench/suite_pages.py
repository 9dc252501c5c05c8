"""``python manage.py bench pages``: page render times at scale.

Loads a million orders into the read models and ten million events into the
log directly with SQL (it measures reading, not writing), then times the
main pages through Django's test client: median of 5 renders after a warm-up.
``--scale 0.1`` for a quick run.
"""

import statistics
import time
from typing import Any

from django.db import connections
from django.test import Client
from django.test.utils import override_settings

from bench.support import as_default_database, progress

LOAD_ORDERS = """
INSERT INTO order_list (order_id, customer_id, status, line_count, item_count, total_cents, placed_at,
    shipped_at, cancelled_at, cancel_reason, carrier, tracking_number, requires_confirmation, version,
    last_position, updated_at)
SELECT md5('order' || i)::uuid, 'cust_' || (i %% 50000),
    (ARRAY['placed', 'confirmed', 'shipped', 'cancelled'])[1 + i %% 4],
    2, 3, 1000 + (i * 7919) %% 500000,
    now() - make_interval(secs => (i * 37) %% (365 * 86400)),
    CASE WHEN i %% 4 = 2 THEN now() END, CASE WHEN i %% 4 = 3 THEN now() END,
    CASE WHEN i %% 4 = 3 THEN 'customer changed their mind' ELSE '' END, '', '', i %% 2 = 0,
    10, i * 10, now()
FROM generate_series(1::bigint, %(orders)s) AS i
"""
LOAD_LINES = """
INSERT INTO order_lines (order_id, sku, quantity, price_cents, line_total_cents, line_no, status,
    rejected_quantity, rejection_reason, catalogue_price_cents, override_reason)
SELECT md5('order' || i)::uuid, sku, q, 1999, q * 1999, n, 'active', 0, '', 1999, ''
FROM generate_series(1::bigint, %(orders)s) AS i,
     LATERAL (VALUES ('WIDGET-A', 1, 1), ('GADGET-B', 2, 2)) AS l(sku, q, n)
"""
# Ten events per order: the placement and nine item changes, ~300 bytes each.
LOAD_EVENTS = """
INSERT INTO events (event_id, aggregate_type, aggregate_id, event_type, schema_version, event_data,
    metadata, version, created_at)
SELECT gen_random_uuid(), 'Order', md5('order' || (g / 10 + 1))::uuid,
    CASE WHEN g %% 10 = 0 THEN 'OrderPlaced' ELSE 'ItemAdded' END,
    CASE WHEN g %% 10 = 0 THEN 2 ELSE 1 END,
    CASE WHEN g %% 10 = 0 THEN jsonb_build_object('customer_id', 'cust_' || (g / 10 %% 50000),
        'items', jsonb_build_array(jsonb_build_object('sku', 'WIDGET-A', 'quantity', 1, 'price_cents', 1999)),
        'total_cents', 1999, 'requires_confirmation', false)
    ELSE jsonb_build_object('sku', 'SKU-' || (g %% 10), 'quantity', 1, 'price_cents', 250,
        'order_total_cents', 1999 + (g %% 10) * 250) END,
    jsonb_build_object('correlation_id', md5('corr' || (g / 10)), 'causation_id', md5('cause' || g),
        'user_id', '1', 'command', 'Bench', 'timestamp', now()),
    g %% 10 + 1, now() - make_interval(secs => (%(events)s - g))
FROM generate_series(0::bigint, %(events)s - 1) AS g
"""


def run(options: dict[str, Any]) -> dict[str, Any]:
    scale = options.get("scale", 1.0)
    orders, events = max(1000, int(1_000_000 * scale)), max(10_000, int(10_000_000 * scale))
    with as_default_database(), override_settings(PROJECTIONS_MODE="off", DEBUG=False):
        return _run(orders, events)


def _run(orders: int, events: int) -> dict[str, Any]:
    from django.contrib.auth.models import User

    with connections["default"].cursor() as cursor:
        for label, sql in (("order_list", LOAD_ORDERS), ("order_lines", LOAD_LINES), ("events", LOAD_EVENTS)):
            progress(f"loading {label} ({orders:,} orders, {events:,} events)")
            start = time.perf_counter()
            cursor.execute(sql, {"orders": orders, "events": events})
            progress(f"  {time.perf_counter() - start:.0f} s")
        cursor.execute("ANALYZE")
    staff = User.objects.create_user("bench", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    middle_order = f"{orders // 2}"
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT md5('order' || %s)::uuid", [middle_order])
        order_id = cursor.fetchone()[0]
        cursor.execute("SELECT position FROM events ORDER BY position DESC OFFSET %s LIMIT 1", [events // 2])
        mid_position = cursor.fetchone()[0]
        cursor.execute("SELECT md5('corr' || %s)", [orders // 3])
        correlation = cursor.fetchone()[0]
    deep_cursor = _cursor_at(client, orders // 2)
    pages = {
        "orders_first_page": "/orders/",
        "orders_deep_page": f"/orders/?cursor={deep_cursor}",
        "orders_filtered": "/orders/?status=shipped&ordering=-total",
        "orders_customer": "/orders/?customer_id=cust_4242",
        "orders_total_range": "/orders/?total_min=100&total_max=200&ordering=total",
        "order_detail": f"/orders/{order_id}/",
        "audit_first_page": "/audit/",
        "audit_deep_page": f"/audit/?before={mid_position}",
        "audit_trace": f"/audit/?correlation_id={correlation}",
        "audit_event_type": "/audit/?event_type=OrderPlaced",
        "audit_aggregate": f"/audit/?aggregate_id={order_id}",
        "dashboard": "/dashboard/",
        "api_orders": "/api/orders/?limit=50",
    }
    result: dict[str, Any] = {"pages_orders": orders, "pages_events": events}
    for name, url in pages.items():
        samples = []
        for _ in range(6):
            start = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
        result[f"{name}_ms"] = round(statistics.median(samples[1:]) * 1000, 1)
        progress(f"{name}: {result[f'{name}_ms']} ms")
    return result


def _cursor_at(client: Client, rows: int) -> str:
    """A keyset cursor pointing about ``rows`` into the default ordering."""
    from projections.models import OrderSummary
    from projections.selectors import encode_cursor

    row = OrderSummary.objects.order_by("-placed_at", "-order_id").values("placed_at", "order_id")[rows]
    return encode_cursor(row["placed_at"], row["order_id"], "n")

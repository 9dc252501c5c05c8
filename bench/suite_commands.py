"""``python manage.py bench commands``: the cost of one command on the write
path, through the handler and through HTTP (Django's test client, in
process), in a database of its own."""

import json
import time
from typing import Any

from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

from bench.support import as_default_database, median_ms, progress
from eventstore.master_key import new_master_key
from orders import commands
from orders.domain import Line
from orders.domain.shipping import Contact, ShippingAddress

BODY = {"customer_id": "cust_456", "items": [{"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}]}


def run(options: dict[str, Any]) -> dict[str, Any]:
    n = max(50, int(1000 * options.get("scale", 1.0)))
    result: dict[str, Any] = {}
    # The command itself: no projections run in this process meanwhile.
    # A database of its own: any master key of personal data will do.
    key = settings.PII_MASTER_KEY or new_master_key()
    with as_default_database(), override_settings(PROJECTIONS_MODE="off", PII_MASTER_KEY=key):
        result.update(_measure(n))
        result.update(_measure_personal(n))
    return result


def _measure(n: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    items = (Line("WIDGET-A", 2, 1999),)
    for sku in ("WIDGET-A", *(f"SKU-{k}" for k in range(5))):  # orders take their prices from it
        commands.execute(commands.AddProduct(sku, f"Bench {sku}", 1999))
    commands.execute(commands.AddProduct("GADGET-B", "Bench GADGET-B", 500))
    progress(f"{n} PlaceOrder through the handler")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        commands.execute(commands.PlaceOrder("cust_456", items))
        samples.append(time.perf_counter() - start)
    out = {"place_order_handler_p50_ms": median_ms(samples)}

    # Realistic streams: each order gets a handful of items.
    orders = [commands.execute(commands.PlaceOrder("cust_456", items)).order_id for _ in range(n // 5)]
    samples = []
    for i in range(len(orders) * 5):
        start = time.perf_counter()
        commands.execute(commands.AddItem(orders[i % len(orders)], f"SKU-{i // len(orders)}", 1, 1999))
        samples.append(time.perf_counter() - start)
    out["add_item_handler_p50_ms"] = median_ms(samples)

    progress(f"{n} POST /api/orders/ through the test client")
    user = User.objects.create_user("bench", is_staff=True)
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    client = Client()
    body = json.dumps(BODY)
    samples = []
    with override_settings(DEBUG=False):
        for _ in range(n):
            start = time.perf_counter()
            response = client.post(
                "/api/orders/", data=body, content_type="application/json", headers=headers
            )
            samples.append(time.perf_counter() - start)
            assert response.status_code == 201, response.content
    out["place_order_http_p50_ms"] = median_ms(samples)
    return out


DETAILS = {
    "contact": Contact("Ada Lovelace", "ada@example.com"),
    "shipping_address": ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB"),
}


def _measure_personal(n: int) -> dict[str, Any]:
    """The same commands on orders with the customer's details (encrypted on
    append under a per-customer key; decrypted on every load): a new
    customer per order, so each placement also makes a data key."""
    items = (Line("WIDGET-A", 2, 1999),)
    progress(f"{n} PlaceOrder with details through the handler")
    samples, orders = [], []
    for i in range(n):
        start = time.perf_counter()
        orders.append(commands.execute(commands.PlaceOrder(f"cust_pii_{i}", items, **DETAILS)).order_id)
        samples.append(time.perf_counter() - start)
    out = {"place_order_with_details_handler_p50_ms": median_ms(samples)}
    samples = []
    for i in range(n):
        start = time.perf_counter()
        commands.execute(commands.AddItem(orders[i], "GADGET-B", 1, 500))
        samples.append(time.perf_counter() - start)
    out["add_item_with_details_handler_p50_ms"] = median_ms(samples)
    return out

"""One order's whole story: every event of the order and every stock event
made for it (inventory events naming the order), whatever request or
workflow (correlation id) each came from, in the order they happened."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from eventstore import EventStore
from orders.domain.inventory import INVENTORY_AGGREGATE
from orders.event_words import event_summary, stock_summary
from orders.views import with_usernames


@login_required
def order_trace(request: HttpRequest, order_id: UUID) -> HttpResponse:
    events = EventStore().load_with_related(order_id, related_type=INVENTORY_AGGREGATE, data_key="order_id")
    if not any(e.aggregate_id == order_id for e in events) or events[0].aggregate_type != "Order":
        raise Http404("No such order")
    with_usernames(events)
    rows = [
        {
            "event": e,
            "stock": e.aggregate_type == INVENTORY_AGGREGATE,
            "summary": stock_summary(e) if e.aggregate_type == INVENTORY_AGGREGATE else event_summary(e),
        }
        for e in events
    ]
    correlations = list(dict.fromkeys(e.metadata.get("correlation_id") for e in events if e.metadata))
    return render(
        request,
        "orders/order_trace.html",
        {"nav": "orders", "order_id": order_id, "rows": rows, "correlations": [c for c in correlations if c]},
    )

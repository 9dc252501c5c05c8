"""The order page's stock panel: what the fulfilment process is doing for
the order, polled by htmx until it has settled."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRefresh

from orders.models import FulfilmentProcess
from projections import selectors


def stock_context(order_id: UUID, order) -> dict:
    """The fulfilment state, and whether it is settled: it has handled the
    order's latest event (as the read model knows it) and is not reserving.
    An order that waits for stock before the process has started is not
    settled either. Until then the stock panel polls, and forms could be a
    version behind."""
    fulfilment = FulfilmentProcess.objects.filter(order_id=order_id).first()
    if fulfilment is None:
        awaiting = order is not None and order.status == "placed" and order.requires_confirmation
        return {"fulfilment": None, "stock_settled": not awaiting, "stock_panel": awaiting}
    settled = fulfilment.status != "reserving" and fulfilment.order_version == (order.version if order else 0)
    return {"fulfilment": fulfilment, "stock_settled": settled, "stock_panel": True}


@login_required
def order_reservation(request: HttpRequest, order_id: UUID) -> HttpResponse:
    """The stock panel, polled by htmx until the fulfilment process has
    settled; then the whole page reloads to show what can be done now."""
    summary = selectors.order_summary(order_id)
    context = stock_context(order_id, summary)
    if request.htmx and (context["stock_settled"] or not context["stock_panel"]):
        return HttpResponseClientRefresh()  # settled, or no longer waiting: show the page as it is now
    if not context["stock_panel"]:
        raise Http404("No fulfilment for this order")
    return render(request, "orders/_reservation.html", {**context, "order_id": order_id})

"""The inventory page: stock levels (read model) and, for order managers,
the form that records stock arriving."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from eventstore.metadata import message_context
from orders import commands
from orders.domain import DomainError
from orders.errors import ContentionError, IdempotencyKeyReusedError
from orders.forms import ReceiveStockForm
from orders.http import can_manage
from projections import consistency, selectors


@login_required
@require_http_methods(["GET", "POST"])
def inventory(request: HttpRequest) -> HttpResponse:
    """Stock levels (read model) and, for order managers, the receive form."""
    form = ReceiveStockForm(request.POST or None) if can_manage(request.user) else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                with message_context(user_id=str(request.user.pk)):
                    result = commands.execute(
                        commands.ReceiveStock(form.cleaned_data["sku"], form.cleaned_data["quantity"]),
                        idempotency_key=form.idempotency_key(request.user, request.path),
                    )
            except (DomainError, ContentionError, IdempotencyKeyReusedError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"Received {form.cleaned_data['quantity']} x {form.cleaned_data['sku']}."
                )
                return redirect(f"{reverse('inventory')}?after={result.consistency_token}")
    if after := request.GET.get("after"):
        consistency.wait_for_token(("inventory",), after)
    low = request.GET.get("low") == "1"
    levels = selectors.inventory_list(available_max=5 if low else None, limit=500)
    return render(
        request,
        "orders/inventory.html",
        {"nav": "inventory", "levels": levels, "form": form, "low": low},
        status=400 if form is not None and form.errors else 200,
    )

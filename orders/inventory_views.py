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
from orders import commands, prg
from orders.domain import DomainError, ProductNotFoundError
from orders.errors import ContentionError, IdempotencyKeyReusedError
from orders.forms import ReceiveStockForm, did_you_mean
from orders.http import MANAGERS_ONLY, can_manage
from projections import consistency, selectors


@login_required
@require_http_methods(["GET", "POST"])
def inventory(request: HttpRequest) -> HttpResponse:
    """Stock levels (read model) and, for order managers, the receive form."""
    form = None
    if can_manage(request.user):  # bound to what was sent, or to a failed attempt kept for this page
        kept = prg.load(request, "inventory") if request.method == "GET" else None
        form = prg.bind(ReceiveStockForm, kept) if kept else ReceiveStockForm(request.POST or None)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(MANAGERS_ONLY)
        errors = []
        if form.is_valid():
            try:
                with message_context(user_id=str(request.user.pk)):
                    result = commands.execute(
                        commands.ReceiveStock(form.cleaned_data["sku"], form.cleaned_data["quantity"]),
                        idempotency_key=form.idempotency_key(request),
                    )
            except ProductNotFoundError as exc:
                errors.append(f"{exc}{did_you_mean(exc.sku)}")
            except (DomainError, ContentionError, IdempotencyKeyReusedError) as exc:
                errors.append(str(exc))
            else:
                messages.success(
                    request, f"Received {form.cleaned_data['quantity']} \u00d7 {form.cleaned_data['sku']}."
                )
                return redirect(f"{reverse('inventory')}?after={result.consistency_token}")
        token = prg.save(request, "inventory", "receive", request.POST, errors)
        return prg.redirect(reverse("inventory"), token, anchor="receive-heading")
    if after := request.GET.get("after"):
        consistency.wait_for_token(("inventory",), after)
    low = request.GET.get("low") == "1"
    levels = selectors.inventory_list(available_max=5 if low else None, limit=500)
    products = selectors.products_by_sku(level.sku for level in levels)
    for level in levels:  # the product each SKU is, from the catalogue
        level.product_name = products[level.sku].name if level.sku in products else ""
    context = {"nav": "inventory", "levels": levels, "form": form, "low": low}
    return render(request, "orders/inventory.html", context)

"""The order page's forms, sent: each runs one command and redirects, to
the order on success or back to the form (kept, with why it failed; see
orders.prg)."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from eventstore.metadata import message_context
from orders import commands, prg
from orders.domain import (
    DomainError,
    InvalidOrderDataError,
    OrderNotFoundError,
    PriceChangedError,
    ProductDiscontinuedError,
    UnknownSkuError,
)
from orders.erasure_guard import DetailsErasedError, DetailsFrom
from orders.errors import ContentionError, IdempotencyKeyReusedError, StaleVersionError
from orders.forms import changed_prices, discontinued_message, price_change_message, unknown_sku_message
from orders.http import MANAGERS_ONLY, can_manage
from orders.repository import OrderRepository
from orders.shipping_forms import PERSONAL_FIELD_NAMES
from orders.stale_forms import execute_from_page, outcome_message
from orders.views import COMMAND_FORMS

# Commands that destroy something: they run only from their confirmation page.
CONFIRMED_ACTIONS = {"remove", "cancel"}


def _command(action: str, order_id: UUID, form):
    data = form.cleaned_data
    if action == "add":
        return commands.AddItem(order_id, data["sku"], data["quantity"], data["price"])
    if action == "quantity":
        return commands.ChangeLineQuantity(order_id, data["sku"], data["quantity"])
    if action == "note":
        return commands.AddNote(order_id, data["text"])
    if action == "remove":
        return commands.RemoveItem(order_id, data["sku"])
    if action == "ship":
        return commands.ShipOrder(order_id, data["carrier"] or None, data["tracking_number"] or None)
    if action == "address":
        shown = DetailsFrom.parse(data.get("details_from"))  # the address the page filled in
        return commands.ChangeShippingAddress(order_id, form.shipping_address(), shown)
    return commands.CancelOrder(order_id, data["reason"])


@login_required
@require_http_methods(["GET", "POST"])
def order_command(request: HttpRequest, order_id: UUID, action: str) -> HttpResponse:
    """Run one command from its form, then redirect: to the order on
    success, or back to the form (kept, with why it failed; see orders.prg).
    A GET (a bookmarked or reloaded command address) shows the order."""
    if action not in COMMAND_FORMS:
        raise Http404
    if request.method == "GET":
        return redirect("order-detail", order_id=order_id)
    if not can_manage(request.user):
        raise PermissionDenied(MANAGERS_ONLY)
    if action in CONFIRMED_ACTIONS and request.POST.get("confirmed") != "yes":
        typed = request.POST.copy()
        for name in prg.NOT_KEPT | {"form_key"}:
            typed.pop(name, None)
        return redirect(f"{reverse('order-confirm', args=[order_id, action])}?{typed.urlencode()}")
    form = COMMAND_FORMS[action](request.POST)
    errors, kept, sent = [], {}, request.POST
    if form.is_valid():
        expected = form.cleaned_data["version"]
        try:
            with message_context(user_id=str(request.user.pk)):
                result, since = execute_from_page(
                    action,
                    _command(action, order_id, form),
                    order_id,
                    expected,
                    form.idempotency_key(request),
                )
        except StaleVersionError as exc:
            if not exc.current:  # no such order: nothing to go back to
                raise Http404(f"order {order_id} does not exist") from None
            kept["conflict_after"] = expected
            if exc.current is None or exc.current <= expected:  # a doctored or mixed-up page
                messages.error(
                    request, f"This page is out of date (the order is at version {exc.current}); reload it."
                )
        except OrderNotFoundError as exc:
            raise Http404(str(exc)) from None
        except PriceChangedError as exc:  # the form shows the new price: sent again, it is charged
            kept["prices"] = changed_prices(exc)
            errors += [price_change_message(sku, change) for sku, change in kept["prices"].items()]
        except UnknownSkuError as exc:  # typed in the wrong case, perhaps
            errors += [unknown_sku_message(sku) for sku in exc.skus]
        except ProductDiscontinuedError as exc:  # as the place-order form says it
            errors += [discontinued_message(sku) for sku in exc.skus]
        except DetailsErasedError as exc:  # nothing of what it showed is kept
            errors.append(str(exc))
            sent = request.POST.copy()
            for name in (*PERSONAL_FIELD_NAMES, "details_from"):
                sent.pop(name, None)
        except (InvalidOrderDataError, DomainError, ContentionError, IdempotencyKeyReusedError) as exc:
            errors.append(str(exc).replace(f"order {order_id}", "this order"))  # on its own page
        else:
            messages.success(request, outcome_message(_DONE[action], result, since))
            return redirect(f"{reverse('order-detail', args=[order_id])}?after={result.consistency_token}")
    if "version" in form.errors:
        messages.error(request, "This form is out of date or incomplete; reload the page and try again.")
    subject = OrderRepository().customer_of(order_id) if action == "address" else None  # seals the address
    token = prg.save(request, str(order_id), action, sent, errors, subject=subject, **kept)
    return prg.redirect(reverse("order-detail", args=[order_id]), token, anchor=FORM_ANCHORS[action])


FORM_ANCHORS = {
    "add": "add-heading",
    "remove": "lines-heading",
    "ship": "ship-heading",
    "cancel": "cancel-heading",
    "quantity": "lines-heading",
    "note": "note-heading",
    "address": "address-heading",
}
_DONE = {
    "add": "Item added.",
    "remove": "Line removed.",
    "ship": "Order shipped.",
    "cancel": "Order cancelled.",
    "quantity": "Quantity changed.",
    "note": "Note added.",
    "address": "Shipping address changed.",
}

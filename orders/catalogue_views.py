"""The catalogue page (list, search, add, change price, rename,
discontinue/reactivate) and the order forms' helpers: a new line row of
the place-order form, what a row or the add-item form shows of the SKU typed
into it, and the SKU suggestions, from the read models."""

from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.money import format_money
from eventstore import EventStore
from eventstore.metadata import message_context
from orders import commands
from orders.catalogue_forms import AddProductForm, ProductPriceForm, ProductRenameForm, ProductStateForm
from orders.domain import DomainError, ProductNotFoundError
from orders.domain.commuting import product_still_meant
from orders.domain.product import MAX_NAME_LENGTH, product_id
from orders.errors import ContentionError, IdempotencyKeyReusedError, StaleVersionError
from orders.event_words import product_changes
from orders.forms import add_item_info, new_form_key, sku_validator
from orders.http import can_manage
from orders.unit_of_work import stored_result
from projections import consistency, selectors

SUGGESTIONS = 20
SHOW = {"active": True, "discontinued": False}  # the page's filter: what it shows, by word


def _run(request: HttpRequest, form, command, expected_version: int | None = None):
    with message_context(user_id=str(request.user.pk)):
        return commands.execute(
            command,
            expected_version=expected_version,
            idempotency_key=form.idempotency_key(request),
        )


@login_required
@require_http_methods(["GET", "POST"])
def catalogue(request: HttpRequest) -> HttpResponse:
    """The catalogue (read model), searchable; order managers add products."""
    form = AddProductForm(request.POST or None, auto_id="product-%s") if can_manage(request.user) else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            try:
                result = _run(
                    request, form, commands.AddProduct(d["sku"], d["name"], d["price"], d["description"])
                )
            except (DomainError, ContentionError, IdempotencyKeyReusedError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Added {d['sku']} to the catalogue.")
                return redirect(f"{reverse('catalogue')}?after={result.consistency_token}")
    if after := request.GET.get("after"):
        consistency.wait_for_token(("products",), after)
    q, show = _listing_value("q", request.GET.get("q")), _listing_value("show", request.GET.get("show"))
    active = SHOW.get(show)
    products = selectors.product_list(q or None, active, limit=500)
    return render(
        request,
        "orders/catalogue.html",
        {
            "nav": "catalogue",
            "products": products,
            "form": form,
            "q": q,
            "show": show,
            "name_max_length": MAX_NAME_LENGTH,
        },
        status=400 if form is not None and form.errors else 200,
    )


PRODUCT_FORMS = {
    "price": ProductPriceForm,
    "rename": ProductRenameForm,
    "discontinue": ProductStateForm,
    "reactivate": ProductStateForm,
}
_DONE = {
    "price": "Price changed",
    "rename": "Renamed",
    "discontinue": "Discontinued",
    "reactivate": "Reactivated",
}


def _product_command(action: str, sku: str, data: dict):
    if action == "price":
        return commands.ChangeProductPrice(sku, data["price"])
    if action == "rename":
        return commands.RenameProduct(sku, data["name"])
    if action == "discontinue":
        return commands.DiscontinueProduct(sku)
    return commands.ReactivateProduct(sku)


ATTEMPTS = 3


def _since(sku: str, version: int) -> list:
    """The product's events after ``version`` (on the primary, where the command saw them)."""
    return EventStore(using="default").load(product_id(sku), after_version=version)


@login_required
@require_POST
def product_command(request: HttpRequest, sku: str, action: str) -> HttpResponse:
    """One product command from a row of the catalogue page; back to the
    page, as it was searched. A form from before another person's change
    that does not bear on it (a rename, for a price) goes through."""
    if action not in PRODUCT_FORMS:
        raise Http404
    if not can_manage(request.user):
        raise PermissionDenied
    form = PRODUCT_FORMS[action](request.POST)
    listing = {key: value for key in ("q", "show") if (value := _listing_value(key, request.POST.get(key)))}
    target = reverse("catalogue") + (f"?{urlencode(listing)}" if listing else "")
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"{sku}: {errors}")
        return redirect(target)
    version, past = form.cleaned_data["version"], []
    command = _product_command(action, sku, form.cleaned_data)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = _run(request, form, command, version)
        except ProductNotFoundError as exc:
            raise Http404(str(exc)) from None
        except StaleVersionError:
            newer = _since(sku, version)  # also after a lost race, which names no version
            if newer and attempt < ATTEMPTS and product_still_meant(action, (e.event_type for e in newer)):
                past, version = past + newer, newer[-1].version
                continue
            # This same form, sent twice, may be what changed the product.
            if (result := stored_result(command, form.idempotency_key(request))) is not None:
                messages.success(request, f"{_DONE[action]}: {sku}.")
                return redirect(f"{target}{'&' if listing else '?'}after={result.consistency_token}")
            typed = _typed(action, form.cleaned_data)
            messages.error(
                request,
                f"{sku} changed after you opened the page"
                + (f" ({product_changes(newer)})" if newer else "")
                + f"; nothing was changed{typed}. Review and retry.",
            )
        except (DomainError, ContentionError, IdempotencyKeyReusedError) as exc:
            messages.error(request, f"{sku}: {exc}")
        else:
            went_past = f" (Since you opened the page: {product_changes(past)}.)" if past else ""
            messages.success(request, f"{_DONE[action]}: {sku}.{went_past}")
            return redirect(f"{target}{'&' if listing else '?'}after={result.consistency_token}")
        break
    return redirect(target)


def _listing_value(key: str, value: str | None) -> str:
    """A search (``q``) or filter (``show``) of the page, as the page takes it."""
    if key == "show":
        return value if value in SHOW else ""
    return (value or "").replace("\x00", "").strip()[:120]


def _typed(action: str, data: dict) -> str:
    """What the form asked, so that it need not be remembered to retry."""
    if action == "price":
        return f" (you asked for {format_money(data['price'])})"
    if action == "rename":
        return f" (you asked for “{data['name']}”)"
    return ""


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """Options for the SKU field's datalist: sold products matching what was typed."""
    q = (request.GET.get("q") or request.GET.get("sku") or "").strip()[:120]
    for key, value in request.GET.items():
        if key.startswith("sku_") and value.strip():
            q = value.strip()[:120]
    products = selectors.product_list(q or None, True, limit=SUGGESTIONS)
    return render(request, "orders/_sku_options.html", {"products": products})


@login_required
@require_GET
def line_row(request: HttpRequest) -> HttpResponse:
    """One line row of the place-order form (a new blank one), or with
    ``part=info`` just what the row shows of the SKU typed into it: the
    product's name and unit price (the row keeps what is typed meanwhile)."""
    if not can_manage(request.user):
        raise PermissionDenied
    key = request.GET.get("row") or new_form_key()[:8]
    if not key.isalnum() or len(key) > 32:
        raise Http404
    sku = request.GET.get(f"sku_{key}", "").strip()
    quantity = request.GET.get(f"quantity_{key}", "").strip()
    product = None
    if sku:
        try:
            sku_validator(sku)
        except Exception:  # shown as not in the catalogue
            pass
        else:
            product = selectors.product_get(sku)
    template = "orders/_line_info.html" if request.GET.get("part") == "info" else "orders/_line_row.html"
    return render(
        request,
        template,
        {
            "key": key,
            "sku": sku,
            "quantity": quantity,
            "product": product,
            "price": product.price_cents if product else None,
            "looked_up": bool(sku),
        },
    )


@login_required
@require_GET
def item_info(request: HttpRequest, order_id: UUID) -> HttpResponse:
    """What the order page's add-item form shows of the SKU typed into it:
    the order's line of it (the units join it at its price), else the
    product and its unit price, which the form then sends back as the price
    it showed (a hidden field)."""
    if not can_manage(request.user):
        raise PermissionDenied
    sku = request.GET.get("sku", "").strip()[:40]
    found = selectors.order_get(order_id)
    return render(request, "orders/_add_item_info.html", add_item_info(sku, found[1] if found else []))

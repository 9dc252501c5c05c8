"""The customer page: their latest contact and shipping address, their
orders and totals; staff can forget them (crypto-shredding) from here."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from eventstore.metadata import message_context
from orders import commands, customer_ids, prefill, prg
from orders.countries import country_name
from orders.domain import DomainError, rules
from orders.errors import ContentionError
from orders.shipping_forms import ForgetCustomerForm, ShippingDetailsForm
from projections import consistency, selectors

CUSTOMER_READ_MODELS = ("order_list", "customer_summary", "shipping_details")
PAGE_SIZE = 50


def _checked(customer_id: str) -> str:
    if not rules.is_customer_id(customer_id):
        raise Http404("No such customer")
    return customer_id


def _page(customer_id: str) -> str:
    """The name a kept form of this customer's page goes by (see orders.prg)."""
    return f"customer:{customer_id}"


def _context(request: HttpRequest, customer_id: str) -> dict:
    _checked(customer_id)
    if after := request.GET.get("after"):
        consistency.wait_for_token(CUSTOMER_READ_MODELS, after)
    summary, details = selectors.customer_get(customer_id), selectors.customer_details(customer_id)
    theirs = selectors.OrderFilters(customer_id=customer_id)
    try:
        page = selectors.order_list(theirs, "-placed_at", request.GET.get("cursor"), PAGE_SIZE)
    except selectors.InvalidCursorError:
        page = selectors.order_list(theirs, "-placed_at", None, PAGE_SIZE)
    if summary is None and details is None and not page.rows:
        raise Http404("No such customer")
    forget_form = None
    if request.user.is_staff and not (details and details.erased):  # nothing left to forget
        kept = prg.load(request, _page(customer_id))
        forget_form = (
            prg.bind(lambda data: ForgetCustomerForm(customer_id, data), kept)
            if kept and kept["action"] == "forget"
            else ForgetCustomerForm(customer_id)
        )
    return {
        "nav": "orders",
        "customer_id": customer_id,
        "summary": summary,
        "details": details,
        "country": country_name(details.country) if details and details.country else "",
        "page": page,
        "forget_form": forget_form,
    }


@login_required
def customer_detail(request: HttpRequest, customer_id: str) -> HttpResponse:
    return render(request, "orders/customer_detail.html", _context(request, customer_id))


@login_required
@require_POST
def customer_forget(request: HttpRequest, customer_id: str) -> HttpResponse:
    """Erase the customer's personal data, once the id is typed to confirm;
    then back to their page (post/redirect/get), with why if it was refused."""
    if not request.user.is_staff:
        raise PermissionDenied
    _checked(customer_id)
    form = ForgetCustomerForm(customer_id, request.POST)
    errors = []
    if form.is_valid():
        try:
            with message_context(user_id=str(request.user.pk)):
                result = commands.execute(commands.ForgetCustomer(customer_id))
        except (DomainError, ContentionError) as exc:
            errors.append(f"Nothing was erased: {exc}")
        else:
            messages.success(
                request,
                "Customer forgotten: their personal data is erased."
                if result.changed
                else "This customer was already forgotten; nothing new to erase.",
            )
            url = reverse("customer-detail", args=[customer_id])
            return redirect(f"{url}?after={result.consistency_token}")
    token = prg.save(request, _page(customer_id), "forget", request.POST, errors)
    return prg.redirect(reverse("customer-detail", args=[customer_id]), token, anchor="forget-heading")


@login_required
@require_GET
def customer_lookup(request: HttpRequest) -> HttpResponse:
    """While a customer id is typed into the place-order form: the known
    customers it may be (the field's suggestions); when it is one of them
    exactly, an offer to fill in the contact and address on file; when it is
    one of them in another case, what the form would say on sending it."""
    typed = (request.GET.get("customer_id") or "").strip()[:64]
    valid = rules.is_customer_id(typed)
    known = selectors.customer_suggestions(typed) if valid else []
    exact = next((c for c in known if c.customer_id == typed and c.address_line1), None)
    spelled = customer_ids.spelled_otherwise(typed) if valid and exact is None else None
    context = {"known": known, "exact": exact, "typed": typed, "spelled_otherwise": spelled}
    return render(request, "orders/_customer_lookup.html", context)


@login_required
@require_GET
def customer_prefill(request: HttpRequest) -> HttpResponse:
    """The place-order form's contact and address fields, filled in from
    what the customer gave last (their customer_details row)."""
    customer_id = _checked((request.GET.get("customer_id") or "").strip())
    stamp = prefill.on_file(customer_id)  # first: the file has caught up with any erasure
    details = selectors.customer_details(customer_id) if stamp else None
    if details is None or details.erased:
        raise Http404("No contact or address on file for this customer")
    form = ShippingDetailsForm(initial=ShippingDetailsForm.initial_from(details), auto_id="place-%s")
    context = {"fields": form.shipping_fields(), "details_from": stamp}
    return render(request, "orders/_place_contact.html", context)

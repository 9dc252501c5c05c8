"""The order pages: list (with the place-order form), detail with its event
timeline and point-in-time view, and one POST view per command. Pages read
the read models; commands go through orders.commands.execute like the API."""

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from eventstore import EventStore, GlobalPosition
from eventstore.metadata import message_context
from orders import commands
from orders.domain import Action, DomainError, InvalidOrderDataError, Line, OrderNotFoundError, actions
from orders.errors import ContentionError, IdempotencyKeyReusedError, StaleVersionError
from orders.forms import (
    AddItemForm,
    CancelForm,
    ChangeAddressForm,
    OrderFilterForm,
    PlaceOrderForm,
    RemoveItemForm,
    ShipForm,
)
from orders.http import can_manage
from orders.models import FulfilmentProcess
from orders.repository import OrderRepository
from projections import consistency, selectors

ORDER_READ_MODELS = ("order_list", "shipping_details")
PAGE_SIZE = 50


def _day_start(day) -> datetime | None:
    try:
        start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
        start.astimezone(UTC)  # the first days of the calendar cannot be moved east of UTC
    except OverflowError:
        return None
    return start


def _day_end(day) -> datetime | None:
    """The start of the day after ``day`` (None: no end, for the last day there is)."""
    try:
        return _day_start(day + timedelta(days=1))
    except OverflowError:
        return None


def _jump_to_order(query: str) -> UUID | None:
    """A full order id, or a unique hex prefix of at least 8 characters."""
    text = query.strip().lower()
    try:
        order_id = UUID(text)
    except ValueError:
        pass
    else:  # in the read model, or only just placed (in the log, not yet projected)
        if selectors.order_summary(order_id) or EventStore().stream_version(order_id):
            return order_id
        return None
    hex_part = text.replace("-", "")
    if len(hex_part) < 8 or len(hex_part) > 32 or any(c not in "0123456789abcdef" for c in hex_part):
        return None
    low = UUID(hex_part.ljust(32, "0"))
    high = UUID(hex_part.ljust(32, "f"))
    found = selectors.order_ids_between(low, high, limit=2)
    return found[0] if len(found) == 1 else None


@login_required
@require_http_methods(["GET", "POST"])
def order_list(request: HttpRequest) -> HttpResponse:
    place_form = (
        PlaceOrderForm(request.POST or None, auto_id="place-%s") if can_manage(request.user) else None
    )
    if request.method == "POST":
        if place_form is None:
            raise PermissionDenied
        if place_form.is_valid():
            lines = tuple(Line(*values) for values in place_form.cleaned_data["lines"])
            try:
                details = {
                    "contact": place_form.contact(),
                    "shipping_address": place_form.shipping_address(),
                }
                with message_context(user_id=str(request.user.pk)):
                    result = commands.execute(
                        commands.PlaceOrder(place_form.cleaned_data["customer_id"], lines, **details),
                        idempotency_key=place_form.idempotency_key(request.user, request.path),
                    )
            except (DomainError, IdempotencyKeyReusedError) as exc:
                place_form.add_error(None, str(exc))
            else:
                messages.success(request, "Order placed.")
                return redirect(
                    f"{reverse('order-detail', args=[result.order_id])}?after={result.consistency_token}"
                )
    filters_form = OrderFilterForm(request.GET or None)
    page, count, exact, filters_valid = None, 0, True, True
    filters = selectors.OrderFilters()
    ordering = "-placed_at"
    cursor = None
    if filters_form.is_bound and not filters_form.is_valid():
        filters_valid = False
    elif filters_form.is_bound:
        data = filters_form.cleaned_data
        if data["q"]:
            found = _jump_to_order(data["q"])
            if found is not None:
                return redirect("order-detail", order_id=found)
            digits = data["q"].strip().replace("-", "")
            if len(digits) < 8 and re.fullmatch(r"[0-9a-fA-F]+", digits):
                messages.warning(request, "Type the full order id, or at least its first 8 characters.")
            else:
                messages.warning(request, f"No order found for “{data['q']}”.")
        filters = selectors.OrderFilters(
            status=data["status"] or None,
            customer_id=data["customer_id"] or None,
            placed_from=_day_start(data["placed_from"]) if data["placed_from"] else None,
            placed_to=_day_end(data["placed_to"]) if data["placed_to"] else None,
            total_min=int(data["total_min"] * 100) if data["total_min"] is not None else None,
            total_max=int(data["total_max"] * 100) if data["total_max"] is not None else None,
            email_hash=selectors.email_lookup(data["customer_email"]) if data["customer_email"] else None,
        )
        ordering = data["ordering"] or ordering
        cursor = data["cursor"] or None
    if filters_valid:
        try:
            page = selectors.order_list(filters, ordering, cursor, PAGE_SIZE)
        except selectors.InvalidCursorError:
            messages.warning(request, "That page link is no longer valid; showing the first page.")
            page = selectors.order_list(filters, ordering, None, PAGE_SIZE)
        count, exact = selectors.order_count_estimate(filters)
    status = 400 if not filters_valid or (place_form is not None and place_form.errors) else 200
    return render(
        request,
        "orders/order_list.html",
        {
            "nav": "orders",
            "filters_form": filters_form,
            "page": page,
            "count": count,
            "count_exact": exact,
            "ordering": ordering,
            "place_form": place_form,
        },
        status=status,
    )


def _parse_as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed if parsed.tzinfo else timezone.make_aware(parsed)
        # Times at the very edge of the calendar cannot be shown in every zone.
        parsed.astimezone(timezone.get_current_timezone()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed


def with_usernames(events) -> None:
    """Put each event's username beside its user id (metadata stores ids)."""
    user_ids = {
        str(e.metadata.get("user_id"))
        for e in events
        if re.fullmatch(r"[0-9]{1,18}", str(e.metadata.get("user_id") or ""))
    }
    names = {
        str(pk): name
        for pk, name in get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")
    }
    for e in events:
        uid = e.metadata.get("user_id")
        e.metadata.setdefault("username", names.get(str(uid), uid))


def detail_context(
    request, order_id: UUID, *, bound: dict | None = None, wait_for: GlobalPosition | None = None
) -> dict:
    """Everything the detail page shows; ``bound`` replaces the blank forms
    with ones carrying the user's input and errors. With ``?after=<token>``
    (a command's consistency token, or ``wait_for``) the read model is given
    time to include that event."""
    waited = True
    if wait_for is not None:
        waited = consistency.wait_for(ORDER_READ_MODELS, wait_for)
    elif after := request.GET.get("after"):
        waited = consistency.wait_for_token(ORDER_READ_MODELS, after)
    found = selectors.order_get(order_id)
    store = EventStore()
    history = store.load(order_id)
    if found is None and not history:
        raise Http404("No such order")
    if history and history[0].aggregate_type != "Order":
        raise Http404("No such order")
    order, lines = found if found else (None, [])
    version = order.version if order else 0
    as_of_raw = request.GET.get("as_of")
    as_of, as_of_state = _parse_as_of(as_of_raw), None
    if as_of_raw and as_of is None:
        messages.error(request, "“As of” needs a date and time.")
    if as_of is not None:
        replayed, upto = OrderRepository().get_at(order_id, as_of)
        as_of_state = {"order": replayed.state(), "events": len(upto)} if replayed.exists else {"order": None}
    forms_ = {
        "add": AddItemForm(initial={"version": version, "quantity": 1}),
        "ship": ShipForm(initial={"version": version}),
        "cancel": CancelForm(initial={"version": version}),
        "address": ChangeAddressForm(initial={"version": version}),
    }
    forms_.update(bound or {})
    with_usernames(history)
    return {
        "nav": "orders",
        "order_id": order_id,
        "order": order,
        "lines": lines,
        "version": version,
        "history": history,
        "shipping": selectors.order_shipping(order_id),
        "lagging": found is None or not waited or order.version < history[-1].version,
        "can_manage": can_manage(request.user),
        "is_open": order is not None and actions.is_open(order.status),
        "can_ship": order is not None
        and Action.SHIP in actions.allowed(order.status, order.requires_confirmation),
        **_stock_context(order_id, order),
        "forms": forms_,
        "as_of": as_of,
        "as_of_value": as_of.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        if as_of
        else "",
        "as_of_state": as_of_state,
    }


@login_required
def order_detail(request: HttpRequest, order_id: UUID) -> HttpResponse:
    return render(request, "orders/order_detail.html", detail_context(request, order_id))


COMMAND_FORMS = {
    "add": AddItemForm,
    "remove": RemoveItemForm,
    "ship": ShipForm,
    "cancel": CancelForm,
    "address": ChangeAddressForm,
}


def _command(action: str, order_id: UUID, form):
    data = form.cleaned_data
    if action == "add":
        return commands.AddItem(order_id, data["sku"], data["quantity"], data["price_cents"])
    if action == "remove":
        return commands.RemoveItem(order_id, data["sku"])
    if action == "ship":
        return commands.ShipOrder(order_id, data["carrier"] or None, data["tracking_number"] or None)
    if action == "address":
        return commands.ChangeShippingAddress(order_id, form.shipping_address())
    return commands.CancelOrder(order_id, data["reason"])


@login_required
@require_POST
def order_command(request: HttpRequest, order_id: UUID, action: str) -> HttpResponse:
    if action not in COMMAND_FORMS:
        raise Http404
    if not can_manage(request.user):
        raise PermissionDenied
    form = COMMAND_FORMS[action](request.POST)
    conflict, shown_form, current, wait_for = None, form, None, None
    status = 400
    if form.is_valid():
        expected = form.cleaned_data["version"]
        try:
            with message_context(user_id=str(request.user.pk)):
                result = commands.execute(
                    _command(action, order_id, form),
                    expected_version=expected,
                    idempotency_key=form.idempotency_key(request.user, request.path),
                )
        except StaleVersionError as exc:
            conflict = EventStore().load(order_id, after_version=expected)
            if not conflict:  # a version the order never had: a doctored or mixed-up page
                messages.error(
                    request, f"This page is out of date (the order is at version {exc.current}); reload it."
                )
            with_usernames(conflict)
            current = conflict[-1].version if conflict else expected
            wait_for = conflict[-1].global_position if conflict else None
            # Keep what the user typed, against the version they can now see.
            shown_form = COMMAND_FORMS[action](initial={**form.cleaned_data, "version": current})
            status = 409
        except OrderNotFoundError as exc:
            raise Http404(str(exc)) from None
        except InvalidOrderDataError as exc:
            form.add_error(None, str(exc))
        except DomainError as exc:
            form.add_error(None, str(exc))
            status = 409
        except (ContentionError, IdempotencyKeyReusedError) as exc:
            form.add_error(None, str(exc))
            status = 409
        else:
            messages.success(request, _DONE[action])
            return redirect(f"{reverse('order-detail', args=[order_id])}?after={result.consistency_token}")
    if "version" in form.errors:
        messages.error(request, "This form is out of date or incomplete; reload the page and try again.")
    bound = {action: shown_form} if action != "remove" else {}
    context = detail_context(request, order_id, bound=bound, wait_for=wait_for)
    context.update(conflict=conflict, remove_error=form.non_field_errors() if action == "remove" else None)
    if conflict is not None:
        context.update(conflict_action=action, version_now=current)
    if action != "remove" and not context["is_open"]:
        # The order is closed: the regular forms are gone. Show what the user
        # sent, and the rule that now forbids it.
        context["retry_action"] = action
        errors = shown_form.non_field_errors() if shown_form.is_bound else []
        order = context["order"]
        refused = order and actions.refusal(
            order_id, order.status, order.requires_confirmation, Action(action)
        )
        context["rule_now"] = " ".join(errors) or (str(refused) if refused else None)
    return render(request, "orders/order_detail.html", context, status=status)


_DONE = {
    "add": "Item added.",
    "remove": "Line removed.",
    "ship": "Order shipped.",
    "cancel": "Order cancelled.",
    "address": "Shipping address changed.",
}


def home(request: HttpRequest) -> HttpResponse:
    return redirect("order-list")


def _stock_context(order_id: UUID, order) -> dict:
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
    context = _stock_context(order_id, summary)
    if request.htmx and (context["stock_settled"] or not context["stock_panel"]):
        return HttpResponseClientRefresh()  # settled, or no longer waiting: show the page as it is now
    if not context["stock_panel"]:
        raise Http404("No fulfilment for this order")
    return render(request, "orders/_reservation.html", {**context, "order_id": order_id})

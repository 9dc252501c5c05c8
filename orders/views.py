"""The order pages: list (with the place-order form), detail with its event
timeline and point-in-time view, and one POST view per command. Pages read
the read models; commands go through orders.commands.execute like the API."""

import re
from datetime import UTC, datetime
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from config import replicas
from eventstore import EventStore
from eventstore.metadata import message_context
from orders import commands, line_check, prefill, prg
from orders.domain import (
    Action,
    DomainError,
    LinesRefusedError,
    actions,
)
from orders.domain.commuting import INDEPENDENT_OF
from orders.erasure_guard import DetailsErasedError, erasures
from orders.errors import IdempotencyKeyReusedError
from orders.forms import (
    AddItemForm,
    CancelForm,
    ChangeAddressForm,
    ChangeQuantityForm,
    NoteForm,
    PlaceOrderForm,
    RemoveItemForm,
    ShipForm,
)
from orders.http import MANAGERS_ONLY, can_manage
from orders.line_status import line_context, placed_message, remember_placed
from orders.list_filters import PAGE_SIZES
from orders.listing import list_query
from orders.repository import OrderRepository
from orders.stock_panel import stock_context
from projections import consistency, selectors

ORDER_READ_MODELS = ("order_list", "shipping_details")


@login_required
@require_http_methods(["GET", "POST"])
def order_list(request: HttpRequest) -> HttpResponse:
    place_form = None
    if can_manage(request.user):  # bound to what was sent, or to a failed attempt kept for this page
        kept = prg.load(request, "order-list") if request.method == "GET" else None
        if kept:
            place_form = prg.bind(
                PlaceOrderForm,
                kept,
                auto_id="place-%s",
                price_changes=kept.get("prices"),
                refused_skus=kept.get("skus"),
            )
        elif "add_line" in request.POST:
            # "Add a line" without JavaScript: the form comes back a row longer, as
            # typed. No command ran, so there is nothing to redirect away from,
            # and nothing typed (personal data included) needs keeping.
            typed = {
                name: values[-1] for name, values in request.POST.lists() if name != "csrfmiddlewaretoken"
            }
            place_form = PlaceOrderForm(initial=typed, extra_rows=1, auto_id="place-%s")
        else:
            place_form = PlaceOrderForm(request.POST or None, auto_id="place-%s")
    if request.method == "POST" and place_form is None:
        raise PermissionDenied(MANAGERS_ONLY)
    if request.method == "POST" and "add_line" not in request.POST:
        errors, kept, sent = [], {}, request.POST
        if (forgotten := prefill.forgotten_since(sent)) is not None:
            why, sent = prefill.refusal(forgotten, sent)
            errors.append(why)
        elif (owner := prefill.not_theirs(sent)) is not None:
            why, sent = prefill.refusal(owner, sent, theirs=True)
            errors.append(why)
        elif place_form.is_valid():
            lines = place_form.cleaned_data["lines"]
            try:
                details = {
                    "contact": place_form.contact(),
                    "shipping_address": place_form.shipping_address(),
                }
                details["details_from"] = prefill.sent_with(sent)
                with message_context(user_id=str(request.user.pk)):
                    result = commands.execute(
                        commands.PlaceOrder(place_form.cleaned_data["customer_id"], lines, **details),
                        idempotency_key=place_form.idempotency_key(request),
                    )
            except LinesRefusedError as exc:  # with every problem it found: each row shows its own
                if exc.problems is not None:
                    kept = line_check.kept(exc.problems)
                else:
                    errors.append(str(exc))
            except DetailsErasedError as exc:  # forgotten after the check above
                why, sent = prefill.refusal(exc.customer_id, sent)
                errors.append(why)
            except (DomainError, IdempotencyKeyReusedError) as exc:
                errors.append(str(exc))
            else:
                remember_placed(request, result.order_id)
                if details["contact"] and erasures(customer := place_form.cleaned_data["customer_id"]):
                    messages.info(  # given again, or typed from memory? staff may want to know
                        request,
                        f"{customer} had been forgotten before: the contact and address given now are kept.",
                    )
                return redirect(
                    f"{reverse('order-detail', args=[result.order_id])}?after={result.consistency_token}"
                )
        elif not place_form.rows_over:  # the command cannot run: the catalogue is asked all the same
            kept = line_check.kept(line_check.problems_of(place_form.lines_to_check()))
        subject = request.POST.get("customer_id", "").strip()  # whose key seals the details kept
        token = prg.save(request, "order-list", "place", sent, errors, subject=subject, **kept)
        return prg.redirect(reverse("order-list"), token, anchor="place")
    query = list_query(request.GET)
    if query.jump_to is not None:
        return redirect("order-detail", order_id=query.jump_to)
    for note in query.notes:
        messages.warning(request, note)
    page, count, exact = None, 0, True
    if query.valid:
        try:
            page = selectors.order_list(query.filters, query.ordering, query.cursor, query.per_page)
        except selectors.InvalidCursorError:
            messages.warning(request, "That page link is no longer valid; showing the first page.")
            page = selectors.order_list(query.filters, query.ordering, None, query.per_page)
        count, exact = selectors.order_count_estimate(query.filters)
    return render(
        request,
        "orders/order_list.html",
        {
            "nav": "orders",
            "filters_form": query.form,
            "page": page,
            "page_links": query.page_links,
            "count": count,
            "count_exact": exact,
            "ordering": query.ordering,
            "per_page": query.per_page,
            "page_sizes": PAGE_SIZES,
            "place_form": place_form,
        },
        status=200 if query.valid else 400,
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
        # No one behind a process's own steps (e.g. "system:fulfilment"): the page says "automatically".
        e.metadata.setdefault(
            "username", None if str(uid).startswith("system:") else names.get(str(uid), uid)
        )


def detail_context(request, order_id: UUID) -> dict:
    """Everything the detail page shows. With ``?after=<token>`` (a command's
    consistency token) the read model is given time to include that event;
    with ``?form=<id>`` the form that failed there is shown again, bound to
    what the user typed, with why it failed (see orders.prg)."""
    kept = prg.load(request, str(order_id))
    conflict = None
    if kept and "conflict_after" in kept:
        # What the command lost to: on the primary, where the command saw
        # it (a replica may not have replayed it yet).
        conflict = EventStore(using="default").load(order_id, after_version=kept["conflict_after"])
        with_usernames(conflict)
    waited = True
    if conflict:
        waited = consistency.wait_for(ORDER_READ_MODELS, conflict[-1].global_position)
    elif after := request.GET.get("after"):
        waited = consistency.wait_for_token(ORDER_READ_MODELS, after)
    found = selectors.order_get(order_id)
    history = EventStore().load(order_id)
    if found is None and not history and replicas.current() is not None:
        replicas.use_primary()  # placed a moment ago: the replica may not have it yet
        found, history = selectors.order_get(order_id), EventStore().load(order_id)
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
    # The customer's file caught up with their last erasure before the address is read from it.
    on_file = prefill.on_file(order.customer_id, timeout=0) if order else None  # a convenience: no wait
    shipping = selectors.order_shipping(order_id)
    forms_ = {
        "add": AddItemForm(initial={"version": version, "quantity": 1}),
        "ship": ShipForm(initial={"version": version}),
        "cancel": CancelForm(initial={"version": version}),
        "note": NoteForm(initial={"version": version}),
        "address": ChangeAddressForm.starting_from(shipping, version, history, on_file),
    }
    with_usernames(history)
    context = {
        "nav": "orders",
        "order_id": order_id,
        "order": order,
        "lines": lines,
        "version": version,
        "history": history,
        "shipping": shipping,
        "lagging": found is None or not waited or order.version < history[-1].version,
        "can_manage": can_manage(request.user),
        "is_open": order is not None and actions.is_open(order.status),
        "can_ship": order is not None
        and Action.SHIP in actions.allowed(order.status, order.requires_confirmation),
        **stock_context(order_id, order),
        **line_context(order, lines),
        "forms": forms_,
        "as_of": as_of,
        "as_of_value": as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] if as_of else "",
        "as_of_state": as_of_state,
    }
    if kept and kept.get("action") in COMMAND_FORMS:
        _show_kept_form(context, kept, conflict, history[-1].version if history else 0)
    context["add_info"] = context["forms"]["add"].product_info(lines)
    placed_message(request, order_id, context)
    return context


def _show_kept_form(context: dict, kept: dict, conflict: list | None, current: int) -> None:
    """Put a failed command's form back on the order page: what was typed,
    the errors, and after a conflict what changed (the form then carries
    the version the user can now see)."""
    action = kept["action"]
    replace = {"version": str(current)} if conflict is not None else None
    prices = {"price_changes": kept["prices"]} if "prices" in kept else {}
    form = prg.bind(COMMAND_FORMS[action], kept, replace=replace, **prices)
    if action == "quantity":  # refused: the line's field shows what was typed; lost to a change:
        key = "asked_quantity" if conflict else "typed_quantity"  # the quantity now, and the banner
        context[key] = (form.data.get("sku"), form.data.get("quantity"))
    if action in LINE_FORMS:
        context["remove_error"] = form.non_field_errors() or [
            e for errors in form.errors.values() for e in errors
        ]
    else:
        context["forms"][action] = form
    if conflict:  # what would not have stopped it alone is said to be so
        passable = INDEPENDENT_OF.get(action, frozenset())
        context.update(conflict=conflict, conflict_action=action, version_now=current, passable=passable)
    order = context["order"]
    if action not in (*LINE_FORMS, "note") and not context["is_open"]:
        # The order is closed: the regular forms are gone. Show what the user
        # sent, and the rule that now forbids it.
        context["retry_action"] = action
        refused = order and actions.refusal(
            context["order_id"], order.status, order.requires_confirmation, Action(action)
        )
        context["rule_now"] = " ".join(form.non_field_errors()) or (str(refused) if refused else None)


@login_required
def order_detail(request: HttpRequest, order_id: UUID) -> HttpResponse:
    return render(request, "orders/order_detail.html", detail_context(request, order_id))


COMMAND_FORMS = {
    "add": AddItemForm,
    "remove": RemoveItemForm,
    "ship": ShipForm,
    "cancel": CancelForm,
    "quantity": ChangeQuantityForm,
    "note": NoteForm,
    "address": ChangeAddressForm,
}
LINE_FORMS = ("remove", "quantity")  # forms on a line of the table: their errors show above it


def home(request: HttpRequest) -> HttpResponse:
    return redirect("order-list")

import json
import re

from django import template

from config.money import format_money, to_major
from orders.forms import new_form_key as _new_form_key
from projections import selectors

register = template.Library()


@register.filter
def money(value) -> str:
    """1999 -> "€19.99": minor units of SHOP_CURRENCY, in the user's locale."""
    return format_money(value)


cents = register.filter("cents", money)  # the older name, used by many templates


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def event_summary(event) -> str:
    """One line saying what an order event did."""
    d = event.data
    match event.event_type:
        case "OrderPlaced":
            lines = len(d["items"])
            text = (
                f"Placed for {d['customer_id']}: {lines} line{'s' if lines != 1 else ''}, "
                f"total {cents(d['total_cents'])}"
            )
            text += "".join(_override(item) for item in d["items"])
        case "ItemAdded":
            text = f"Added {d['quantity']} \u00d7 {d['sku']} at {cents(d['price_cents'])}{_override(d)}"
        case "LineQuantityChanged":
            text = f"Quantity of {d['sku']} changed from {d['old_quantity']} to {d['quantity']}"
        case "LineRejected":
            what = "Line rejected" if not d["remaining_quantity"] else f"{d['quantity']} unit(s) rejected"
            text = f"{what}: {d['reason']}"
        case "NoteAdded":
            text = f"Note: {d['text']}"
        case "ItemRemoved":
            text = f"Removed {d['sku']} ({d['quantity']} \u00d7 {cents(d['price_cents'])})"
        case "OrderShipped":
            via = " ".join(x for x in (d.get("carrier"), d.get("tracking_number")) if x)
            text = f"Shipped{' via ' + via if via else ''}"
        case "OrderCancelled":
            text = f"Cancelled: {d['reason']}"
        case "ShippingDetailsGiven":
            text = f"Contact and shipping address given (to {d['city']}, {d['country']})"
        case "ShippingAddressChanged":
            text = f"Shipping address changed (to {d['city']}, {d['country']})"
        case "OrderConfirmed":
            text = "Confirmed: stock reserved for every line"
        case _:  # an event without its own sentence: its name in words ("LineRejected": "Line rejected")
            text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", event.event_type).capitalize()
    return text


def _override(d: dict) -> str:
    """Says when a line was charged another price than the catalogue's, and why."""
    if not d.get("override_reason"):
        return ""
    return (
        f" ({d['sku']}: price overridden from {cents(d['catalogue_price_cents'])}"
        f" to {cents(d['price_cents'])}: {d['override_reason']})"
    )


@register.simple_tag
def querystring_with(request, **changes) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"


@register.simple_tag
def new_form_key() -> str:
    """A one-time key for a form rendered in a loop (see orders.forms.OneTimeForm)."""
    return _new_form_key()


@register.filter
def major_units(value) -> str:
    """1999 -> "19.99": a price as people type it (a form's initial value)."""
    return "" if value is None or value == "" else str(to_major(int(value)))


@register.simple_tag
def catalogue_suggestions(limit: int = 200):
    """Sold products for a SKU field's suggestions (the products read model)."""
    return selectors.product_list(active=True, limit=limit)

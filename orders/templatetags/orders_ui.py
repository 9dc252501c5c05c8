import json
import re

from django import template

from orders.forms import new_form_key as _new_form_key

register = template.Library()


@register.filter
def cents(value) -> str:
    """1999 -> "19.99" (amounts are integer cents everywhere)."""
    if value is None or value == "":
        return ""
    value = int(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100:,}.{value % 100:02d}"


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
        case "ItemAdded":
            text = f"Added {d['quantity']} \u00d7 {d['sku']} at {cents(d['price_cents'])}"
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
            text = "Confirmed: all stock reserved"
        case _:  # an event without its own sentence: its name in words ("LineRejected": "Line rejected")
            text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", event.event_type).capitalize()
    return text


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

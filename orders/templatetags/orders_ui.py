import json

from django import template

from config.money import format_money, to_major
from orders import event_words
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


event_summary = register.filter("event_summary", event_words.event_summary)


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

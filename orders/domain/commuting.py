"""Which changes to an order a decision taken on its page does not depend on.

A form carries the version of the order its page showed. When the order has
moved on by the time the form is sent, the command still runs if every
change in between is one that could not have changed the decision: the
fulfilment process confirming the order does not make a note, a new line or
a cancellation mean anything else. Any other change (another person's new
line before a shipment, an address changed by someone else, a note before
the order is shipped or cancelled) stops the command, and the page shows
what changed. The order's rules are checked
on its state now either way.

Only the web forms use this. The REST API keeps ``If-Match`` strict (HTTP's
precondition on the version the client names): a client that wants the same
reads the order again and decides."""

from collections.abc import Iterable

from orders.domain.events import EVENT_TYPES

_NOTES = frozenset({"NoteAdded"})
_PROCESS = frozenset({"OrderConfirmed"})  # the fulfilment process, not a person
_LINES = frozenset({"ItemAdded", "ItemRemoved", "LineQuantityChanged", "LineRejected"})
_ADDRESS = frozenset({"ShippingAddressChanged"})

# Per form (the order page's actions): the event types that may have been
# appended since the page was drawn without changing what the form asked for.
INDEPENDENT_OF: dict[str, frozenset[str]] = {
    "note": frozenset(EVENT_TYPES),  # a note says the same whatever happened meanwhile
    "add": _NOTES | _PROCESS | _ADDRESS,
    "quantity": _NOTES | _PROCESS | _ADDRESS,
    "remove": _NOTES | _PROCESS | _ADDRESS,
    "address": _NOTES | _PROCESS | _LINES,
    # Closing an order for good waits for a person to see any note first
    # (notes are where staff write "hold" or "call first"), and a shipment
    # for what is shipped, and where, to be what the page showed.
    "cancel": _PROCESS | {"LineRejected"},
    "ship": _PROCESS,
}


def still_meant(action: str, since: Iterable[str]) -> bool:
    """Whether the decision behind ``action``, taken on a page drawn before
    events of the types ``since`` were appended, still stands."""
    independent = INDEPENDENT_OF.get(action, frozenset())
    return all(event_type in independent for event_type in since)


# The catalogue's row forms: a price is decided whatever the product is
# called, and a name whatever it costs; taking a product off sale or back
# on depends on neither.
_PRODUCT_FACTS = frozenset({"ProductRenamed", "ProductPriceChanged"})
PRODUCT_INDEPENDENT_OF: dict[str, frozenset[str]] = {
    "price": frozenset({"ProductRenamed"}),
    "rename": frozenset({"ProductPriceChanged"}),
    "discontinue": _PRODUCT_FACTS,
    "reactivate": _PRODUCT_FACTS,
}


def product_still_meant(action: str, since: Iterable[str]) -> bool:
    """``still_meant`` for a catalogue row's ``action`` and a product's events."""
    independent = PRODUCT_INDEPENDENT_OF.get(action, frozenset())
    return all(event_type in independent for event_type in since)

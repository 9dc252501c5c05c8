"""Contact and address filled in from a customer's file, in the place-order
form, and the customer being forgotten before the form is sent.

The filled-in fields come with a hidden ``details_from``: whose file, and
how many times that customer had been forgotten then (their stream's
version). If they have been forgotten since, the details are erased
everywhere else, and placing the order with them would bring them back:
the form is refused and what it held of them is not kept."""

from django.http import QueryDict

from eventstore import EventStore
from orders.domain.customer import customer_stream_id
from orders.shipping_forms import PERSONAL_FIELD_NAMES

FIELD = "details_from"


def _forgotten(customer_id: str) -> int:
    """How many erasures the customer's stream records (its version): on the
    primary, where the forget committed."""
    return EventStore(using="default").stream_version(customer_stream_id(customer_id))


def stamp(customer_id: str) -> str:
    return f"{_forgotten(customer_id)}:{customer_id}"


def forgotten_since(data: QueryDict) -> str | None:
    """The customer whose file filled in this form's details, if they have
    been forgotten since (None: typed by hand, or still on file)."""
    version, _, customer_id = data.get(FIELD, "").partition(":")
    if not customer_id or not version.isdigit() or not any(data.get(f) for f in PERSONAL_FIELD_NAMES):
        return None
    return customer_id if _forgotten(customer_id) > int(version) else None


def refusal(customer_id: str, data: QueryDict) -> tuple[str, QueryDict]:
    """Why the form is refused, and what of it to keep (not their details)."""
    kept = data.copy()
    for name in (*PERSONAL_FIELD_NAMES, FIELD):
        kept.pop(name, None)
    return (
        f"{customer_id} was forgotten after their contact and address were filled in from the file: "
        "those are erased and were not used. Ask the customer for them again.",
        kept,
    )

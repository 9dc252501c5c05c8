"""Contact and address filled in from a customer's file, in the place-order
form, and the customer being forgotten before the form is sent.

The filled-in fields come with a hidden ``details_from``: whose file, and
how many times that customer had been forgotten then (their stream's
version). If they have been forgotten since, the details are erased
everywhere else, and placing the order with them would bring them back:
the form is refused and what it held of them is not kept. The stamp rides
with the form wherever it is drawn again (a line added without JavaScript,
a refused form kept for the page), and into the command, which checks it
again where a forget cannot slip in between (orders.erasure_guard)."""

from django.http import QueryDict

from eventstore import EventStore
from orders.domain.customer import customer_stream_id
from orders.erasure_guard import DetailsFrom
from orders.shipping_forms import PERSONAL_FIELD_NAMES
from projections import consistency

FIELD = "details_from"


def _erasures(customer_id: str):
    """The last event of the customer's own stream (their erasures; None
    if never forgotten): on the primary, where a forget commits."""
    events = EventStore(using="default").load(customer_stream_id(customer_id))
    return events[-1] if events else None


def on_file(customer_id: str, timeout: float | None = None) -> str | None:
    """The stamp for details read now from the customer's file, once that
    file has caught up with their last erasure (None: it has not, within
    ``timeout`` seconds, READ_YOUR_WRITES_TIMEOUT by default: the file may
    still hold what was erased)."""
    last = _erasures(customer_id)
    if last is not None and not consistency.wait_for(("shipping_details",), last.global_position, timeout):
        return None
    return DetailsFrom(customer_id, last.version if last else 0).stamp


def forgotten_since(data: QueryDict) -> str | None:
    """The customer whose file filled in this form's details, if they have
    been forgotten since (None: typed by hand, or still on file)."""
    stamp = sent_with(data)
    if stamp is None:
        return None
    last = _erasures(stamp.customer_id)
    return stamp.customer_id if last is not None and last.version > stamp.erasures else None


def sent_with(data: QueryDict) -> DetailsFrom | None:
    """Whose file filled in the details this form sends (None: it sends
    none, or typed by hand)."""
    if not any(data.get(f) for f in PERSONAL_FIELD_NAMES):
        return None
    return DetailsFrom.parse(data.get(FIELD))


def not_theirs(data: QueryDict) -> str | None:
    """The customer whose file filled in this form's details, when the form
    places the order for someone else (their details would outlive their
    erasure there)."""
    stamp = sent_with(data)
    if stamp is None or stamp.customer_id == (data.get("customer_id") or "").strip():
        return None
    return stamp.customer_id


def refusal(customer_id: str, data: QueryDict, *, theirs: bool = False) -> tuple[str, QueryDict]:
    """Why the form is refused (``customer_id`` was forgotten since, or,
    ``theirs``, the order is for someone else), and what of it to keep (not
    the details)."""
    kept = data.copy()
    for name in (*PERSONAL_FIELD_NAMES, FIELD):
        kept.pop(name, None)
    if theirs:
        ordered_for = (data.get("customer_id") or "").strip()
        return (
            f"The contact and address were filled in from {customer_id}'s file, but the order is for "
            f"{ordered_for}: they were not used. Enter {ordered_for}'s own, or place the order for "
            f"{customer_id}.",
            kept,
        )
    return (
        f"{customer_id} was forgotten after their contact and address were filled in from the file: "
        "those are erased and were not used. Ask the customer for them again.",
        kept,
    )

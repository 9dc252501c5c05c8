"""Streams known by a name rather than their UUID. A stream whose first
event carries a ``sku`` (a SKU's inventory, a catalogue product) is shown
by that SKU in the audit trail; what a name typed into the audit's search
stands for, the apps say (``resolvers``): nothing here knows the domain,
and no index on the events' data is needed (each one would cost every
append)."""

from collections.abc import Callable, Iterable
from uuid import UUID

from eventstore.models import Event

LABEL_FIELD = "sku"

# Functions an app registers that name the streams a label stands for (the
# orders app: a SKU's stock and catalogue entry; a customer's own stream and
# their orders, from a customer id): label -> stream ids.
resolvers: list[Callable[[str], Iterable[UUID]]] = []


def stream_labels(aggregate_ids) -> dict[UUID, str]:
    """The label of each of these streams that has one (one indexed read of
    their first events)."""
    rows = (
        Event.objects.filter(aggregate_id__in=set(aggregate_ids), version=1)
        .order_by()
        .values_list("aggregate_id", f"event_data__{LABEL_FIELD}")
    )
    return {aggregate_id: label for aggregate_id, label in rows if isinstance(label, str) and label}


def streams_labelled(label: str) -> list[UUID]:
    """The streams the registered resolvers name for ``label``."""
    found: list[UUID] = []
    for resolve in resolvers:
        found += resolve(label)
    return found

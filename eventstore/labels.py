"""Streams known by a name rather than their UUID: a stream whose first
event carries a ``sku`` (a SKU's inventory, a catalogue product) is shown
and found by that SKU in the audit trail. Generic: any aggregate type whose
first event has the field qualifies; nothing here knows the domain."""

from collections.abc import Callable, Iterable
from uuid import UUID

from django.db import connection
from django.db.models.fields.json import KT

from eventstore.models import Event

LABEL_FIELD = "sku"

# Functions an app registers that name the streams a label stands for,
# besides those whose first event carries it (the orders app: a customer's
# own stream and their orders, from a customer id): label -> stream ids.
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


def first_events_labelled(label: str):
    """The first events naming ``label`` (as typed, or in capitals). On
    PostgreSQL the partial index events_stream_label_idx serves it."""
    wanted = list({label, label.upper()})
    qs = Event.objects.filter(version=1, event_data__has_key=LABEL_FIELD).order_by()
    if connection.vendor == "postgresql":
        return qs.annotate(stream_label=KT(f"event_data__{LABEL_FIELD}")).filter(stream_label__in=wanted)
    return qs.filter(**{f"event_data__{LABEL_FIELD}__in": wanted})


def streams_labelled(label: str, limit: int = 100) -> list[UUID]:
    """The streams whose first event names ``label``, and those the
    registered resolvers name for it."""
    found = list(first_events_labelled(label).values_list("aggregate_id", flat=True)[:limit])
    for resolve in resolvers:
        found += resolve(label)
    return found

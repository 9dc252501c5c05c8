"""What the audit trail's search finds by name rather than by stream id
(registered with ``eventstore.labels.resolvers``): a SKU names its stock
and its catalogue entry, a customer id the customer's own stream and their
orders. The stream ids of a SKU are derived from it, so finding them takes
no index on the events' data."""

from uuid import UUID

from eventstore import EventStore
from eventstore.labels import stream_labels
from orders.domain import rules
from orders.domain.customer import customer_stream_id
from orders.domain.inventory import inventory_id
from orders.domain.product import product_id
from projections import selectors


def sku_streams(label: str) -> list[UUID]:
    """The inventory and catalogue streams of the SKU ``label``, as typed or
    in capitals, that exist."""
    if not rules.is_sku(label):
        return []
    skus = dict.fromkeys((label, label.upper()))
    candidates = [make(sku) for sku in skus for make in (inventory_id, product_id)]
    return list(stream_labels(candidates))


def customer_streams(label: str) -> list[UUID]:
    """A customer id names the customer's own stream (their erasures) and
    their orders' (the latest 100, from the order list)."""
    if not rules.is_customer_id(label):
        return []
    streams = selectors.order_ids_of(label, limit=100)
    own = customer_stream_id(label)
    if EventStore().stream_version(own):  # forgotten at least once
        streams.append(own)
    return streams

"""What the audit trail's search finds by a name the event store does not
know (registered with ``eventstore.labels.resolvers``): a customer id names
the customer's own stream and their orders."""

from uuid import UUID

from eventstore import EventStore
from orders.domain import rules
from orders.domain.customer import customer_stream_id
from projections import selectors


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

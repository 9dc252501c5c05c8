"""Registers the order events (and their schema versions) in the event catalog."""

from eventstore import registry
from orders.domain.events import AGGREGATE_TYPE, EVENT_TYPES


def register_order_events(target=registry) -> None:
    for event_type, cls in EVENT_TYPES.items():
        target.register(
            event_type,
            cls.schema,
            version=1,
            aggregate_type=AGGREGATE_TYPE,
            description=cls.description,
        )

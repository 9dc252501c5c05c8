"""Registers the order, inventory and product (catalogue) events (with every schema version and
its upcaster) in the event catalog."""

from eventstore import registry
from orders.domain.customer import CUSTOMER_AGGREGATE, CUSTOMER_EVENT_TYPES
from orders.domain.events import AGGREGATE_TYPE, EVENT_TYPES
from orders.domain.inventory import INVENTORY_AGGREGATE, INVENTORY_EVENT_TYPES
from orders.domain.product import PRODUCT_AGGREGATE, PRODUCT_EVENT_TYPES


def register_order_events(target=registry) -> None:
    for aggregate_type, types in (
        (AGGREGATE_TYPE, EVENT_TYPES),
        (INVENTORY_AGGREGATE, INVENTORY_EVENT_TYPES),
        (PRODUCT_AGGREGATE, PRODUCT_EVENT_TYPES),
        (CUSTOMER_AGGREGATE, CUSTOMER_EVENT_TYPES),
    ):
        for event_type, cls in types.items():
            schemas = [*cls.previous_schemas, cls.schema]
            for version, schema in enumerate(schemas, start=1):
                target.register(
                    event_type,
                    schema,
                    version=version,
                    aggregate_type=aggregate_type,
                    description=getattr(cls, "event_description", None) or cls.description,
                    upcast_from_previous=getattr(cls, f"upcast_v{version - 1}") if version > 1 else None,
                )

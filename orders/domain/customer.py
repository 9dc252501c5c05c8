"""A customer, as far as this system records decisions about them: being
forgotten (GDPR art. 17). Their personal data lives, encrypted under their
own key, in the events of their orders; forgetting deletes the key (outside
the domain) and records the fact here, on the customer's own stream."""

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from orders.domain import rules
from orders.domain.events import OrderEvent

CUSTOMER_AGGREGATE = "Customer"
_NAMESPACE = uuid.UUID("0f3d8a52-7c1b-4e8e-b6a4-2d95c0e7f1a3")
SNAPSHOT_SCHEMA_VERSION = 1


def customer_stream_id(customer_id: str) -> UUID:
    """Customer streams are found by the customer id, by any writer."""
    return uuid.uuid5(_NAMESPACE, customer_id)


@dataclass(frozen=True, slots=True)
class CustomerForgotten(OrderEvent):
    event_type: ClassVar[str] = "CustomerForgotten"
    description: ClassVar[str] = (
        "The customer's personal data was erased: their data key is deleted, so every personal field "
        "encrypted under it reads as erased from now on. Read models scrub what they hold of them."
    )
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "customer_id": {"type": "string", "pattern": rules.CUSTOMER_ID_PATTERN},
            "data_key_deleted": {"type": "boolean"},
        },
        "required": ["customer_id", "data_key_deleted"],
        "additionalProperties": False,
    }

    customer_id: str
    data_key_deleted: bool


CUSTOMER_EVENT_TYPES: dict[str, type[OrderEvent]] = {CustomerForgotten.event_type: CustomerForgotten}


def customer_event_from_data(event_type: str, data: dict[str, Any]) -> OrderEvent:
    return CUSTOMER_EVENT_TYPES[event_type].from_data(data)


class Customer:
    def __init__(self, customer_id: str):
        self.customer_id = rules.check_customer_id(customer_id)
        self.id = customer_stream_id(customer_id)
        self.version = 0
        self.forgotten = False
        self.pending: list[OrderEvent] = []

    @classmethod
    def from_history(cls, customer_id: str, events: list[OrderEvent], snapshot: dict | None = None):
        customer = cls(customer_id)
        if snapshot:
            customer.version, customer.forgotten = snapshot["version"], snapshot["forgotten"]
        for event in events:
            customer.apply(event)
        return customer

    def forget(self, data_key_deleted: bool) -> None:
        """Record the erasure. Forgetting again changes nothing, unless the
        customer gave new personal data since (a new key was deleted)."""
        if self.forgotten and not data_key_deleted:
            return
        self._record(CustomerForgotten(self.customer_id, data_key_deleted))

    def _record(self, event: OrderEvent) -> None:
        self.apply(event)
        self.pending.append(event)

    def apply(self, event: OrderEvent) -> None:
        if isinstance(event, CustomerForgotten):
            self.forgotten = True
        self.version += 1

    def to_snapshot(self) -> dict[str, Any]:
        return {"version": self.version, "forgotten": self.forgotten}

"""The inventory of one SKU: stock on hand, and what is reserved for orders.

Invariant: available = on hand - reserved is never negative. Reservations
are per order; every change names the reference (the triggering event) it
was made for, so a command repeated for the same reference changes nothing.
The item remembers the references of its open reservations and the latest
``RECENT_REFERENCES`` others (repeats come from a process manager retrying
a step, soon after it), so a busy SKU's state stays small however long its
history grows.
"""

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from orders.domain import rules
from orders.domain.errors import InvalidOrderDataError
from orders.domain.events import OrderEvent

INVENTORY_AGGREGATE = "InventoryItem"
MAX_RECEIVE = 1_000_000
# Inventory ids are derived from the SKU, so any writer can find the stream.
_NAMESPACE = uuid.UUID("6b1e5c8e-3f0a-4a52-9d3e-9a4f2c7b1d20")
SNAPSHOT_SCHEMA_VERSION = 2
RECENT_REFERENCES = 500


def inventory_id(sku: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, sku)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_SKU = {"type": "string", "pattern": rules.SKU_PATTERN}
_QTY = {"type": "integer", "minimum": 1}
_ORDER = {"type": "string", "format": "uuid"}
_REF = {"type": "string", "minLength": 1, "maxLength": 200}


@dataclass(frozen=True, slots=True)
class StockReceived(OrderEvent):
    event_type: ClassVar[str] = "StockReceived"
    description: ClassVar[str] = "Units of a SKU arrived in the warehouse."
    schema: ClassVar[dict[str, Any]] = _object(
        {"sku": _SKU, "quantity": _QTY, "on_hand": {"type": "integer", "minimum": 0}},
        ["sku", "quantity", "on_hand"],
    )
    sku: str
    quantity: int
    on_hand: int


# Reserved, released and shipped carry the same fields: units of a SKU for a line of an order.
_ORDER_UNITS = _object(
    {"sku": _SKU, "order_id": _ORDER, "quantity": _QTY, "reference": _REF},
    ["sku", "order_id", "quantity", "reference"],
)


@dataclass(frozen=True, slots=True)
class StockReserved(OrderEvent):
    event_type: ClassVar[str] = "StockReserved"
    description: ClassVar[str] = "Units were set aside for an order."
    schema: ClassVar[dict[str, Any]] = _ORDER_UNITS
    sku: str
    order_id: str
    quantity: int
    reference: str


@dataclass(frozen=True, slots=True)
class ReservationRefused(OrderEvent):
    event_type: ClassVar[str] = "ReservationRefused"
    description: ClassVar[str] = "An order asked for more units than were available."
    schema: ClassVar[dict[str, Any]] = _object(
        {
            "sku": _SKU,
            "order_id": _ORDER,
            "requested": _QTY,
            "available": {"type": "integer", "minimum": 0},
            "reference": _REF,
        },
        ["sku", "order_id", "requested", "available", "reference"],
    )
    sku: str
    order_id: str
    requested: int
    available: int
    reference: str


@dataclass(frozen=True, slots=True)
class StockReleased(OrderEvent):
    event_type: ClassVar[str] = "StockReleased"
    description: ClassVar[str] = (
        "An order's reserved units went back to available (cancelled, line removed or reduced)."
    )
    schema: ClassVar[dict[str, Any]] = _ORDER_UNITS
    sku: str
    order_id: str
    quantity: int
    reference: str


@dataclass(frozen=True, slots=True)
class StockShipped(OrderEvent):
    event_type: ClassVar[str] = "StockShipped"
    description: ClassVar[str] = "An order's reserved units left the warehouse with it."
    schema: ClassVar[dict[str, Any]] = _ORDER_UNITS
    sku: str
    order_id: str
    quantity: int
    reference: str


INVENTORY_EVENT_TYPES: dict[str, type[OrderEvent]] = {
    cls.event_type: cls
    for cls in (StockReceived, StockReserved, ReservationRefused, StockReleased, StockShipped)
}


def inventory_event_from_data(event_type: str, data: dict[str, Any]) -> OrderEvent:
    return INVENTORY_EVENT_TYPES[event_type].from_data(data)


class InventoryItem:
    """One SKU's stock. Commands decide; ``apply`` only assigns."""

    def __init__(self, sku: str):
        self.sku = sku
        self.id = inventory_id(sku)
        self.version = 0
        self.on_hand = 0
        self.reservations: dict[str, int] = {}
        # order id -> references of its open reservation; and the latest others, oldest first.
        self.open_references: dict[str, tuple[str, ...]] = {}
        self.recent_references: tuple[str, ...] = ()
        self.pending: list[OrderEvent] = []

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def references(self) -> frozenset[str]:
        """The references whose repeat would change nothing."""
        return frozenset(self.recent_references).union(*self.open_references.values())

    def _seen(self, reference: str) -> bool:
        return reference in self.recent_references or any(
            reference in refs for refs in self.open_references.values()
        )

    @classmethod
    def from_history(
        cls, sku: str, events: list[OrderEvent], snapshot: dict | None = None
    ) -> "InventoryItem":
        item = cls.from_snapshot(sku, snapshot) if snapshot else cls(sku)
        for event in events:
            item.apply(event)
        return item

    # -- commands --------------------------------------------------------------

    def receive(self, quantity: int) -> None:
        rules.check_sku(self.sku)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_RECEIVE:
            raise InvalidOrderDataError("quantity", f"an integer from 1 to {MAX_RECEIVE:,}")
        self._record(StockReceived(self.sku, quantity, self.on_hand + quantity))

    def reserve(self, order_id: UUID, quantity: int, reference: str) -> None:
        """Reserve ``quantity`` for the order, or record that it could not be."""
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise InvalidOrderDataError("quantity", "a positive integer")
        if self._seen(reference):
            return
        if quantity <= self.available:
            self._record(StockReserved(self.sku, str(order_id), quantity, reference))
        else:
            self._record(
                ReservationRefused(self.sku, str(order_id), quantity, max(self.available, 0), reference)
            )

    def release(self, order_id: UUID, reference: str, keep: int = 0) -> None:
        """Give back what is reserved for the order beyond ``keep`` units
        (everything by default; nothing if it holds no more than that)."""
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
            raise InvalidOrderDataError("keep", "a non-negative integer")
        held = self.reservations.get(str(order_id), 0)
        if self._seen(reference) or held <= keep:
            return
        self._record(StockReleased(self.sku, str(order_id), held - keep, reference))

    def ship(self, order_id: UUID, reference: str) -> None:
        """The order's reserved units leave: on hand and reserved both drop."""
        held = self.reservations.get(str(order_id), 0)
        if self._seen(reference) or held == 0:
            return
        self._record(StockShipped(self.sku, str(order_id), held, reference))

    def _record(self, event: OrderEvent) -> None:
        self.apply(event)
        self.pending.append(event)

    # -- state ----------------------------------------------------------------

    def apply(self, event: OrderEvent) -> None:
        match event:
            case StockReceived():
                self.on_hand = event.on_hand
            case StockReserved():
                self.reservations = {
                    **self.reservations,
                    event.order_id: self.reservations.get(event.order_id, 0) + event.quantity,
                }
                self.open_references = {
                    **self.open_references,
                    event.order_id: (*self.open_references.get(event.order_id, ()), event.reference),
                }
            case StockReleased() if self.reservations.get(event.order_id, 0) > event.quantity:
                # A partial release (a line's quantity went down): the reservation stays open.
                self.reservations = {
                    **self.reservations,
                    event.order_id: self.reservations[event.order_id] - event.quantity,
                }
            case StockReleased() | StockShipped():
                if isinstance(event, StockShipped):
                    self.on_hand -= event.quantity
                self.reservations = {k: v for k, v in self.reservations.items() if k != event.order_id}
                closed = self.open_references.get(event.order_id, ())
                self.open_references = {k: v for k, v in self.open_references.items() if k != event.order_id}
                self.recent_references = (*self.recent_references, *closed)
        if hasattr(event, "reference") and not isinstance(event, StockReserved):
            self.recent_references = (*self.recent_references, event.reference)
        self.recent_references = self.recent_references[-RECENT_REFERENCES:]
        self.version += 1

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "on_hand": self.on_hand,
            "reservations": self.reservations,
            "open_references": {order: list(refs) for order, refs in self.open_references.items()},
            "recent_references": list(self.recent_references),
        }

    @classmethod
    def from_snapshot(cls, sku: str, state: dict[str, Any]) -> "InventoryItem":
        item = cls(sku)
        item.version = state["version"]
        item.on_hand = state["on_hand"]
        item.reservations = dict(state["reservations"])
        item.open_references = {order: tuple(refs) for order, refs in state["open_references"].items()}
        item.recent_references = tuple(state["recent_references"])
        return item

    def state(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "version": self.version,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "reservations": dict(self.reservations),
        }

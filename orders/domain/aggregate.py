"""OrderAggregate: decides which events a command produces, and folds events
into state.

Command methods check the rules and then record events; ``apply`` only
assigns state (no checks, no clock, no I/O), so replaying history can never
fail or differ from what was decided.
"""

from dataclasses import replace
from typing import Any
from uuid import UUID

from orders.domain import rules
from orders.domain.actions import Action, OrderStatus, closed, refusal
from orders.domain.errors import (
    DuplicateOrderError,
    InvalidOrderDataError,
    LastLineRemovalError,
    LineNotFoundError,
    OrderNotFoundError,
    PriceMismatchError,
    QuantityLimitError,
    ShippingAddressErasedError,
    TooManyLinesError,
)
from orders.domain.events import (
    ItemAdded,
    ItemRemoved,
    Line,
    LineQuantityChanged,
    LineRejected,
    NoteAdded,
    OrderCancelled,
    OrderConfirmed,
    OrderEvent,
    OrderPlaced,
    OrderShipped,
    ShippingAddressChanged,
    ShippingDetailsGiven,
)
from orders.domain.pricing import Catalogue, as_request, check_catalogue, check_request, price_lines
from orders.domain.shipping import Contact, ShippingAddress

# Bump when the snapshot layout changes: older snapshots are then ignored.
# v3: the contact and shipping address, kept encrypted under "$personal".
# v4: each line's catalogue price and price override reason.
SNAPSHOT_SCHEMA_VERSION = 4
_PERSONAL = "$personal"


class OrderAggregate:
    """One order's consistency boundary."""

    def __init__(self, order_id: UUID):
        self.id = order_id
        self.version = 0
        self.status: OrderStatus | None = None
        self.customer_id: str | None = None
        self.lines: dict[str, Line] = {}
        self.carrier: str | None = None
        self.tracking_number: str | None = None
        self.cancel_reason: str | None = None
        self.requires_confirmation = False
        self.contact: Contact | None = None
        self.shipping_address: ShippingAddress | None = None
        self.pending: list[OrderEvent] = []

    # -- rebuilding --------------------------------------------------------

    @classmethod
    def from_history(cls, order_id: UUID, events: list[OrderEvent], snapshot: "dict | None" = None):
        order = cls.from_snapshot(order_id, snapshot) if snapshot else cls(order_id)
        for event in events:
            order.apply(event)
        return order

    @property
    def exists(self) -> bool:
        return self.status is not None

    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines.values())

    # -- commands ----------------------------------------------------------

    def place(
        self,
        customer_id: str,
        items: list,
        requires_confirmation: bool = False,
        catalogue: Catalogue | None = None,
        contact: Contact | None = None,
        address: ShippingAddress | None = None,
    ) -> None:
        """Place the order. ``items`` are LineRequests (or Lines, or (sku,
        quantity[, price]) tuples); with ``catalogue`` each line is priced
        from it (see orders.domain.pricing)."""
        if self.exists:
            raise DuplicateOrderError(f"order {self.id} is already placed")
        rules.check_customer_id(customer_id)
        if not items:
            raise InvalidOrderDataError("items", "an order needs at least one line")
        lines: dict[str, Line] = {}
        for line in price_lines([as_request(item) for item in items], catalogue):
            sku = line.sku
            if sku in lines:
                if lines[sku].price_cents != line.price_cents:
                    raise PriceMismatchError(f"SKU {sku} appears twice with different prices")
                merged = lines[sku].quantity + line.quantity
                if merged > rules.MAX_QUANTITY:
                    raise QuantityLimitError(f"SKU {sku}: at most {rules.MAX_QUANTITY:,} units per line")
                line = Line(sku, merged, line.price_cents, line.catalogue_price_cents, line.override_reason)
            lines[sku] = line
        if len(lines) > rules.MAX_LINES:
            raise TooManyLinesError(f"an order has at most {rules.MAX_LINES} lines")
        if (contact is None) != (address is None):
            raise InvalidOrderDataError("shipping_address", "give both the contact and the shipping address")
        self._record(
            OrderPlaced(
                customer_id=customer_id,
                items=tuple(lines.values()),
                total_cents=sum(line.total_cents for line in lines.values()),
                requires_confirmation=requires_confirmation,
            )
        )
        if contact is not None and address is not None:
            self._record(
                ShippingDetailsGiven(customer_id, contact.name, contact.email, **address.to_fields())
            )

    def change_shipping_address(self, address: ShippingAddress) -> None:
        self._require(Action.CHANGE_ADDRESS)
        self._record(ShippingAddressChanged(self.customer_id, **address.to_fields()))

    def add_item(
        self,
        sku: str,
        quantity: int,
        price_cents: int | None = None,
        catalogue: Catalogue | None = None,
        override_reason: str | None = None,
    ) -> None:
        """Add units of a SKU. A new line is priced like a placed one; units
        of a SKU already on the order join its line at the line's price."""
        self._require(Action.ADD_ITEM)
        request = as_request((sku, quantity, price_cents, override_reason))
        existing = self.lines.get(sku)
        if existing is None and len(self.lines) >= rules.MAX_LINES:
            raise TooManyLinesError(f"an order has at most {rules.MAX_LINES} lines")
        if existing is None:
            [line] = price_lines([request], catalogue)
        else:
            request = check_request(request)
            if catalogue is not None:
                check_catalogue([sku], catalogue)
            if request.price_cents is not None and existing.price_cents != request.price_cents:
                raise PriceMismatchError(
                    f"SKU {sku} is on the order at {existing.price_cents} cents, not {request.price_cents}"
                )
            if existing.quantity + quantity > rules.MAX_QUANTITY:
                raise QuantityLimitError(
                    f"SKU {sku} would have {existing.quantity + quantity:,} units; "
                    f"at most {rules.MAX_QUANTITY:,} per line"
                )
            line = Line(
                sku, quantity, existing.price_cents, existing.catalogue_price_cents, existing.override_reason
            )
        self._record(
            ItemAdded(
                sku,
                quantity,
                line.price_cents,
                self.total_cents + line.total_cents,
                line.catalogue_price_cents,
                line.override_reason,
            )
        )

    def change_quantity(self, sku: str, quantity: int) -> None:
        """A line's new quantity, at its price. The same quantity records nothing."""
        self._require(Action.CHANGE_QUANTITY)
        line = self.lines.get(sku)
        if line is None:
            raise LineNotFoundError(f"SKU {sku} is not on order {self.id}")
        rules.check_quantity(quantity)
        if quantity == line.quantity:
            return
        total = self.total_cents + (quantity - line.quantity) * line.price_cents
        self._record(LineQuantityChanged(sku, line.quantity, quantity, line.price_cents, total))

    def reject_line(self, sku: str, quantity: int, reason: str) -> None:
        """Stock compensation: ``quantity`` units of the line could not be
        reserved and leave the order (the whole line when that is all of it).
        The last line is never rejected whole: the order is cancelled instead."""
        self._require_open()
        line = self.lines.get(sku)
        if line is None:
            raise LineNotFoundError(f"SKU {sku} is not on order {self.id}")
        reason = rules.check_text("reason", reason, rules.MAX_REASON_LENGTH, required=True)
        rejected = min(rules.check_quantity(quantity), line.quantity)
        remaining = line.quantity - rejected
        if remaining == 0 and len(self.lines) == 1:
            raise LastLineRemovalError("the last line cannot be rejected; cancel the order instead")
        total = self.total_cents - rejected * line.price_cents
        self._record(LineRejected(sku, rejected, remaining, line.price_cents, reason, total))

    def add_note(self, text: str) -> None:
        """An internal note, on an order in any state."""
        if not self.exists:
            raise OrderNotFoundError(self.id)
        self._record(
            NoteAdded(rules.check_text("text", text, rules.MAX_NOTE_LENGTH, required=True, lines=True))
        )

    def remove_item(self, sku: str) -> None:
        self._require(Action.REMOVE_ITEM)
        line = self.lines.get(sku)
        if line is None:
            raise LineNotFoundError(f"SKU {sku} is not on order {self.id}")
        if len(self.lines) == 1:
            raise LastLineRemovalError("the last line cannot be removed; cancel the order instead")
        self._record(ItemRemoved(sku, line.quantity, line.price_cents, self.total_cents - line.total_cents))

    def confirm(self) -> None:
        """Stock is reserved for every line. Repeating it changes nothing."""
        self._require_open()
        if self.status is OrderStatus.CONFIRMED or not self.requires_confirmation:
            return
        self._record(OrderConfirmed())

    def ship(self, carrier: str | None = None, tracking_number: str | None = None) -> None:
        self._require(Action.SHIP)
        if self.shipping_address is not None and self.shipping_address.erased:
            raise ShippingAddressErasedError(
                f"order {self.id}: the customer was forgotten, so there is no address to ship to; "
                "give the order a new shipping address or cancel it"
            )
        self._record(
            OrderShipped(
                carrier=rules.check_text("carrier", carrier, rules.MAX_CARRIER_LENGTH, required=False),
                tracking_number=rules.check_text(
                    "tracking_number", tracking_number, rules.MAX_TRACKING_LENGTH, required=False
                ),
            )
        )

    def cancel(self, reason: str) -> None:
        self._require(Action.CANCEL)
        self._record(
            OrderCancelled(rules.check_text("reason", reason, rules.MAX_REASON_LENGTH, required=True))
        )

    def _require_open(self) -> None:
        if not self.exists:
            raise OrderNotFoundError(self.id)
        if error := closed(self.id, self.status):
            raise error

    def _require(self, action: Action) -> None:
        self._require_open()
        if error := refusal(self.id, self.status, self.requires_confirmation, action):
            raise error

    def _record(self, event: OrderEvent) -> None:
        self.apply(event)
        self.pending.append(event)

    # -- state changes -----------------------------------------------------

    def apply(self, event: OrderEvent) -> None:
        """Fold one event into state. Assignments only."""
        match event:
            case OrderPlaced():
                self.status = OrderStatus.PLACED
                self.customer_id = event.customer_id
                self.lines = {line.sku: line for line in event.items}
                self.requires_confirmation = event.requires_confirmation
            case ItemAdded():
                current = self.lines.get(event.sku)
                quantity = event.quantity + (current.quantity if current else 0)
                line = Line(
                    event.sku, quantity, event.price_cents, event.catalogue_price_cents, event.override_reason
                )
                self.lines = {**self.lines, event.sku: line}
                if self.requires_confirmation:
                    self.status = OrderStatus.PLACED  # the new units still need stock
            case LineQuantityChanged():
                self.lines = {
                    **self.lines,
                    event.sku: replace(self.lines[event.sku], quantity=event.quantity),
                }
                if self.requires_confirmation and event.quantity > event.old_quantity:
                    self.status = OrderStatus.PLACED  # the extra units still need stock
            case LineRejected():
                if event.remaining_quantity:
                    line = replace(self.lines[event.sku], quantity=event.remaining_quantity)
                    self.lines = {**self.lines, event.sku: line}
                else:
                    self.lines = {sku: ln for sku, ln in self.lines.items() if sku != event.sku}
            case OrderConfirmed():
                self.status = OrderStatus.CONFIRMED
            case ItemRemoved():
                self.lines = {sku: line for sku, line in self.lines.items() if sku != event.sku}
            case OrderShipped():
                self.status = OrderStatus.SHIPPED
                self.carrier = event.carrier
                self.tracking_number = event.tracking_number
            case OrderCancelled():
                self.status = OrderStatus.CANCELLED
                self.cancel_reason = event.reason
            case ShippingDetailsGiven():
                self.contact = Contact(event.name, event.email)
                self.shipping_address = ShippingAddress.from_fields(event.to_data())
            case ShippingAddressChanged():
                self.shipping_address = ShippingAddress.from_fields(event.to_data())
        self.version += 1

    # -- snapshots and views -------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status.value if self.status else None,
            "customer_id": self.customer_id,
            "lines": [
                [ln.sku, ln.quantity, ln.price_cents, ln.catalogue_price_cents, ln.override_reason]
                for ln in self.lines.values()
            ],
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "cancel_reason": self.cancel_reason,
            "requires_confirmation": self.requires_confirmation,
            "has_contact": self.contact is not None,
            "country": self.shipping_address.country if self.shipping_address else None,
            # Kept encrypted under the customer's key by the event store.
            _PERSONAL: {"subject": self.customer_id, "values": self._personal_values()},
        }

    def _personal_values(self) -> dict[str, Any]:
        address = self.shipping_address.to_fields() if self.shipping_address else {}
        address.pop("country", None)
        contact = {"name": self.contact.name, "email": self.contact.email} if self.contact else {}
        return {**contact, **address}

    @classmethod
    def from_snapshot(cls, order_id: UUID, state: dict[str, Any]) -> "OrderAggregate":
        order = cls(order_id)
        order.version = state["version"]
        order.status = OrderStatus(state["status"]) if state["status"] else None
        order.customer_id = state["customer_id"]
        order.lines = {line[0]: Line(*line) for line in state["lines"]}
        order.carrier = state["carrier"]
        order.tracking_number = state["tracking_number"]
        order.cancel_reason = state["cancel_reason"]
        order.requires_confirmation = state["requires_confirmation"]
        values = state[_PERSONAL]["values"]
        if state["has_contact"]:
            order.contact = Contact(values["name"], values["email"])
        if state["country"] is not None:
            order.shipping_address = ShippingAddress.from_fields({**values, "country": state["country"]})
        return order

    def state(self) -> dict[str, Any]:
        """The order as plain data (for the point-in-time view and tests)."""
        return {
            "order_id": str(self.id),
            "version": self.version,
            "status": self.status.value if self.status else None,
            "customer_id": self.customer_id,
            "items": [
                {
                    "sku": ln.sku,
                    "quantity": ln.quantity,
                    "price_cents": ln.price_cents,
                    "catalogue_price_cents": ln.catalogue_price_cents,
                    "override_reason": ln.override_reason,
                }
                for ln in self.lines.values()
            ],
            "total_cents": self.total_cents,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "cancel_reason": self.cancel_reason,
            "requires_confirmation": self.requires_confirmation,
            "contact": {"name": self.contact.name, "email": self.contact.email} if self.contact else None,
            "shipping_address": self.shipping_address.to_fields() if self.shipping_address else None,
        }

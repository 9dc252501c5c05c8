"""Order events: past-tense facts, with the JSON Schema each is stored under.

Events carry the facts a reader needs without replaying the stream (an item
event carries the order's new total), so projections stay simple.
"""

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar

from orders.domain import rules

AGGREGATE_TYPE = "Order"


@dataclass(frozen=True, slots=True)
class Line:
    """A line as charged: ``price_cents`` is the unit price on the order.
    ``catalogue_price_cents`` is the catalogue's price when the line was
    priced (None for lines from before the catalogue); ``override_reason``
    says why a staff user charged another price than the catalogue's."""

    sku: str
    quantity: int
    price_cents: int
    catalogue_price_cents: int | None = None
    override_reason: str | None = None

    @property
    def total_cents(self) -> int:
        return self.quantity * self.price_cents


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Base of order events. ``schema_version`` is the catalog version the
    class's shape corresponds to."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    schema: ClassVar[dict[str, Any]]
    # Schemas of versions 1 .. schema_version-1; version k+1 upcasts with upcast_v<k>.
    previous_schemas: ClassVar[list] = []
    description: ClassVar[str] = ""

    def to_data(self) -> dict[str, Any]:
        return plain(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "OrderEvent":
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """``dataclasses.asdict`` for events' values (dataclasses, tuples, lists,
    dicts of plain values), without its deep copy of every leaf: the
    values are immutable. An event's data on every append."""
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_SKU = {"type": "string", "pattern": rules.SKU_PATTERN}
_QUANTITY = {"type": "integer", "minimum": rules.MIN_QUANTITY, "maximum": rules.MAX_QUANTITY}
_PRICE = {"type": "integer", "minimum": rules.MIN_PRICE_CENTS, "maximum": rules.MAX_PRICE_CENTS}
_TOTAL = {"type": "integer", "minimum": 0}
_LINE_V1 = _object(
    {"sku": _SKU, "quantity": _QUANTITY, "price_cents": _PRICE}, ["sku", "quantity", "price_cents"]
)
_CATALOGUE_PRICE = {
    "type": ["integer", "null"],
    "minimum": rules.MIN_PRICE_CENTS,
    "maximum": rules.MAX_PRICE_CENTS,
}
_OVERRIDE = {"type": ["string", "null"], "minLength": 1, "maxLength": rules.MAX_REASON_LENGTH}
_PRICING = {"catalogue_price_cents": _CATALOGUE_PRICE, "override_reason": _OVERRIDE}
_LINE = _object(
    {"sku": _SKU, "quantity": _QUANTITY, "price_cents": _PRICE, **_PRICING},
    ["sku", "quantity", "price_cents", "catalogue_price_cents", "override_reason"],
)
_NO_PRICING = {"catalogue_price_cents": None, "override_reason": None}


_PLACED_V1 = {
    "customer_id": {"type": "string", "pattern": rules.CUSTOMER_ID_PATTERN},
    "items": {"type": "array", "items": _LINE_V1, "minItems": 1, "maxItems": rules.MAX_LINES},
    "total_cents": _TOTAL,
}
_PLACED_V2 = {**_PLACED_V1, "requires_confirmation": {"type": "boolean"}}


@dataclass(frozen=True, slots=True)
class OrderPlaced(OrderEvent):
    """v2 added ``requires_confirmation``: the order waits for its stock to be
    reserved before it can ship. Orders placed before (v1) did not. v3 added
    each line's catalogue price and price override reason (null before the
    catalogue existed)."""

    event_type: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[int] = 3
    description: ClassVar[str] = "A customer placed an order with its first lines, priced from the catalogue."
    schema: ClassVar[dict[str, Any]] = _object(
        {**_PLACED_V2, "items": {**_PLACED_V2["items"], "items": _LINE}},
        ["customer_id", "items", "total_cents", "requires_confirmation"],
    )
    previous_schemas: ClassVar[list] = [
        _object(_PLACED_V1, ["customer_id", "items", "total_cents"]),
        _object(_PLACED_V2, ["customer_id", "items", "total_cents", "requires_confirmation"]),
    ]

    customer_id: str
    items: tuple[Line, ...]
    total_cents: int
    requires_confirmation: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "items": [plain(line) for line in self.items],
            "total_cents": self.total_cents,
            "requires_confirmation": self.requires_confirmation,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "OrderPlaced":
        return cls(
            customer_id=data["customer_id"],
            items=tuple(Line(**item) for item in data["items"]),
            total_cents=data["total_cents"],
            requires_confirmation=data["requires_confirmation"],
        )

    @staticmethod
    def upcast_v1(data: dict[str, Any]) -> dict[str, Any]:
        """Orders placed before stock reservation existed need no confirmation."""
        return {**data, "requires_confirmation": False}

    @staticmethod
    def upcast_v2(data: dict[str, Any]) -> dict[str, Any]:
        """Lines priced before the catalogue existed: the client's price stood."""
        return {**data, "items": [{**item, **_NO_PRICING} for item in data["items"]]}


@dataclass(frozen=True, slots=True)
class ItemAdded(OrderEvent):
    """``quantity`` is what was added; on a SKU already on the order it adds
    to that line (at the line's price). v2 added the catalogue price and the
    price override reason (null before the catalogue existed)."""

    event_type: ClassVar[str] = "ItemAdded"
    schema_version: ClassVar[int] = 2
    description: ClassVar[str] = "Units of a SKU were added to an open order."
    schema: ClassVar[dict[str, Any]] = _object(
        {"sku": _SKU, "quantity": _QUANTITY, "price_cents": _PRICE, "order_total_cents": _TOTAL, **_PRICING},
        ["sku", "quantity", "price_cents", "order_total_cents", "catalogue_price_cents", "override_reason"],
    )
    previous_schemas: ClassVar[list] = [
        _object(
            {"sku": _SKU, "quantity": _QUANTITY, "price_cents": _PRICE, "order_total_cents": _TOTAL},
            ["sku", "quantity", "price_cents", "order_total_cents"],
        )
    ]

    sku: str
    quantity: int
    price_cents: int
    order_total_cents: int
    catalogue_price_cents: int | None = None
    override_reason: str | None = None

    @staticmethod
    def upcast_v1(data: dict[str, Any]) -> dict[str, Any]:
        """Added before the catalogue existed: the client's price stood."""
        return {**data, **_NO_PRICING}


@dataclass(frozen=True, slots=True)
class ItemRemoved(OrderEvent):
    """A whole line left the order; it carries the line as it was."""

    event_type: ClassVar[str] = "ItemRemoved"
    description: ClassVar[str] = "A line was removed from an open order."
    schema: ClassVar[dict[str, Any]] = _object(
        {
            "sku": _SKU,
            "quantity": {"type": "integer", "minimum": rules.MIN_QUANTITY},
            "price_cents": _PRICE,
            "order_total_cents": _TOTAL,
        },
        ["sku", "quantity", "price_cents", "order_total_cents"],
    )

    sku: str
    quantity: int
    price_cents: int
    order_total_cents: int


_OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": 100}


@dataclass(frozen=True, slots=True)
class OrderShipped(OrderEvent):
    event_type: ClassVar[str] = "OrderShipped"
    description: ClassVar[str] = "The order left the warehouse."
    schema: ClassVar[dict[str, Any]] = _object(
        {"carrier": _OPTIONAL_TEXT, "tracking_number": _OPTIONAL_TEXT}, ["carrier", "tracking_number"]
    )

    carrier: str | None
    tracking_number: str | None


@dataclass(frozen=True, slots=True)
class OrderConfirmed(OrderEvent):
    event_type: ClassVar[str] = "OrderConfirmed"
    description: ClassVar[str] = "Stock is reserved for every line: the order may ship."
    schema: ClassVar[dict[str, Any]] = _object({}, [])


@dataclass(frozen=True, slots=True)
class OrderCancelled(OrderEvent):
    event_type: ClassVar[str] = "OrderCancelled"
    description: ClassVar[str] = "The order was cancelled; it changes no more."
    schema: ClassVar[dict[str, Any]] = _object(
        {"reason": {"type": "string", "minLength": 1, "maxLength": rules.MAX_REASON_LENGTH}}, ["reason"]
    )

    reason: str


@dataclass(frozen=True, slots=True)
class LineQuantityChanged(OrderEvent):
    event_type: ClassVar[str] = "LineQuantityChanged"
    description: ClassVar[str] = "A line of an open order now has another quantity (same unit price)."
    schema: ClassVar[dict[str, Any]] = _object(
        {
            "sku": _SKU,
            "old_quantity": _QUANTITY,
            "quantity": _QUANTITY,
            "price_cents": _PRICE,
            "order_total_cents": _TOTAL,
        },
        ["sku", "old_quantity", "quantity", "price_cents", "order_total_cents"],
    )

    sku: str
    old_quantity: int
    quantity: int
    price_cents: int
    order_total_cents: int


@dataclass(frozen=True, slots=True)
class LineRejected(OrderEvent):
    """Stock compensation for one line: ``quantity`` units could not be
    reserved and left the order; ``remaining_quantity`` stay on the line
    (0: the whole line is gone)."""

    event_type: ClassVar[str] = "LineRejected"
    description: ClassVar[str] = "Units of a line could not be reserved and were taken off the order."
    schema: ClassVar[dict[str, Any]] = _object(
        {
            "sku": _SKU,
            "quantity": _QUANTITY,
            "remaining_quantity": {"type": "integer", "minimum": 0},
            "price_cents": _PRICE,
            "reason": {"type": "string", "minLength": 1, "maxLength": rules.MAX_REASON_LENGTH},
            "order_total_cents": _TOTAL,
        },
        ["sku", "quantity", "remaining_quantity", "price_cents", "reason", "order_total_cents"],
    )

    sku: str
    quantity: int
    remaining_quantity: int
    price_cents: int
    reason: str
    order_total_cents: int


@dataclass(frozen=True, slots=True)
class NoteAdded(OrderEvent):
    """An internal note; who wrote it is in the event's metadata."""

    event_type: ClassVar[str] = "NoteAdded"
    description: ClassVar[str] = "Staff wrote an internal note on the order."
    schema: ClassVar[dict[str, Any]] = _object(
        {"text": {"type": "string", "minLength": 1, "maxLength": rules.MAX_NOTE_LENGTH}}, ["text"]
    )

    text: str


def _personal(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "x-personal": True}


# Personal fields ("x-personal") are stored encrypted under the key of the
# customer the event names ("x-personal-subject"); see eventstore.personal.
_CUSTOMER = {"type": "string", "pattern": rules.CUSTOMER_ID_PATTERN}
_LINE_LENGTH = rules.MAX_ADDRESS_LINE_LENGTH
_ADDRESS = {
    "address_line1": _personal({"type": "string", "minLength": 1, "maxLength": _LINE_LENGTH}),
    "address_line2": _personal({"type": ["string", "null"], "maxLength": _LINE_LENGTH}),
    "postcode": _personal({"type": ["string", "null"], "maxLength": rules.MAX_POSTCODE_LENGTH}),
    "city": _personal({"type": "string", "minLength": 1, "maxLength": rules.MAX_CITY_LENGTH}),
    "country": {"type": "string", "pattern": rules.COUNTRY_PATTERN},
}
_ADDRESS_REQUIRED = ["address_line1", "address_line2", "postcode", "city", "country"]


@dataclass(frozen=True, slots=True)
class ShippingDetailsGiven(OrderEvent):
    """Appended with OrderPlaced, in the same append, when the order came
    with the customer's details (orders placed before, or through the API
    without them, have none)."""

    event_type: ClassVar[str] = "ShippingDetailsGiven"
    description: ClassVar[str] = "The customer's contact (name, email) and shipping address for the order."
    schema: ClassVar[dict[str, Any]] = {
        **_object(
            {
                "customer_id": _CUSTOMER,
                "name": _personal({"type": "string", "minLength": 1, "maxLength": rules.MAX_NAME_LENGTH}),
                "email": _personal({"type": "string", "minLength": 3, "maxLength": rules.MAX_EMAIL_LENGTH}),
                **_ADDRESS,
            },
            ["customer_id", "name", "email", *_ADDRESS_REQUIRED],
        ),
        "x-personal-subject": "customer_id",
    }

    customer_id: str
    name: str
    email: str
    address_line1: str
    address_line2: str | None
    postcode: str | None
    city: str
    country: str


@dataclass(frozen=True, slots=True)
class ShippingAddressChanged(OrderEvent):
    event_type: ClassVar[str] = "ShippingAddressChanged"
    description: ClassVar[str] = "An open order is to be shipped to another address."
    schema: ClassVar[dict[str, Any]] = {
        **_object({"customer_id": _CUSTOMER, **_ADDRESS}, ["customer_id", *_ADDRESS_REQUIRED]),
        "x-personal-subject": "customer_id",
    }

    customer_id: str
    address_line1: str
    address_line2: str | None
    postcode: str | None
    city: str
    country: str


EVENT_TYPES: dict[str, type[OrderEvent]] = {
    cls.event_type: cls
    for cls in (
        OrderPlaced,
        ItemAdded,
        ItemRemoved,
        OrderConfirmed,
        OrderShipped,
        OrderCancelled,
        LineQuantityChanged,
        LineRejected,
        NoteAdded,
        ShippingDetailsGiven,
        ShippingAddressChanged,
    )
}


def event_from_data(event_type: str, data: dict[str, Any]) -> OrderEvent:
    return EVENT_TYPES[event_type].from_data(data)

"""The catalogue: one ``Product`` aggregate per SKU, with its name,
description, unit price (integer minor units of the shop currency) and
whether it is sold. Orders take their prices from it.

A product's stream id is derived from its SKU (a namespace of its own, so
it never collides with the SKU's inventory stream), so any writer can find it.
"""

import uuid
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID

from orders.domain import rules
from orders.domain.errors import (
    InvalidOrderDataError,
    ProductExistsError,
    ProductNotFoundError,
)
from orders.domain.events import plain

PRODUCT_AGGREGATE = "Product"
_NAMESPACE = uuid.UUID("0c5d1f7e-9a43-4b8e-b0f2-5e7a3d9c1b64")
SNAPSHOT_SCHEMA_VERSION = 1
MAX_NAME_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 2000


@lru_cache(maxsize=4096)
def product_id(sku: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, sku)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_SKU = {"type": "string", "pattern": rules.SKU_PATTERN}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH}
_DESCRIPTION = {"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH}
_PRICE = {"type": "integer", "minimum": rules.MIN_PRICE_CENTS, "maximum": rules.MAX_PRICE_CENTS}
_JUST_SKU = _object({"sku": _SKU}, ["sku"])


@dataclass(frozen=True, slots=True)
class ProductEvent:
    """Base of product events. Their data has a "description" field, so the
    catalog's text for the event type is ``event_description``."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    schema: ClassVar[dict[str, Any]]
    previous_schemas: ClassVar[list] = []
    event_description: ClassVar[str] = ""

    def to_data(self) -> dict[str, Any]:
        return plain(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "ProductEvent":
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class ProductAdded(ProductEvent):
    event_type: ClassVar[str] = "ProductAdded"
    event_description: ClassVar[str] = (
        "A product joined the catalogue, with its name, description and unit price."
    )
    schema: ClassVar[dict[str, Any]] = _object(
        {
            "sku": _SKU,
            "name": _NAME,
            "description": _DESCRIPTION,
            "price_cents": _PRICE,
            "active": {"type": "boolean"},
        },
        ["sku", "name", "description", "price_cents", "active"],
    )
    sku: str
    name: str
    description: str
    price_cents: int
    active: bool


@dataclass(frozen=True, slots=True)
class ProductPriceChanged(ProductEvent):
    event_type: ClassVar[str] = "ProductPriceChanged"
    event_description: ClassVar[str] = "A product's unit price changed (orders already placed keep theirs)."
    schema: ClassVar[dict[str, Any]] = _object(
        {"sku": _SKU, "old_price_cents": _PRICE, "price_cents": _PRICE},
        ["sku", "old_price_cents", "price_cents"],
    )
    sku: str
    old_price_cents: int
    price_cents: int


@dataclass(frozen=True, slots=True)
class ProductRenamed(ProductEvent):
    event_type: ClassVar[str] = "ProductRenamed"
    event_description: ClassVar[str] = "A product's name or description changed."
    schema: ClassVar[dict[str, Any]] = _object(
        {"sku": _SKU, "name": _NAME, "description": _DESCRIPTION}, ["sku", "name", "description"]
    )
    sku: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class ProductDiscontinued(ProductEvent):
    event_type: ClassVar[str] = "ProductDiscontinued"
    event_description: ClassVar[str] = "A product is no longer sold: new orders and lines refuse it."
    schema: ClassVar[dict[str, Any]] = _JUST_SKU
    sku: str


@dataclass(frozen=True, slots=True)
class ProductReactivated(ProductEvent):
    event_type: ClassVar[str] = "ProductReactivated"
    event_description: ClassVar[str] = "A discontinued product is sold again."
    schema: ClassVar[dict[str, Any]] = _JUST_SKU
    sku: str


PRODUCT_EVENT_TYPES: dict[str, type[ProductEvent]] = {
    cls.event_type: cls
    for cls in (ProductAdded, ProductPriceChanged, ProductRenamed, ProductDiscontinued, ProductReactivated)
}


def product_event_from_data(event_type: str, data: dict[str, Any]) -> ProductEvent:
    return PRODUCT_EVENT_TYPES[event_type].from_data(data)


@dataclass(frozen=True, slots=True)
class CataloguePrice:
    """What an order needs to know of a product when it is priced."""

    sku: str
    name: str
    price_cents: int
    active: bool


def check_name(name: object) -> str:
    text = rules.check_text("name", name, MAX_NAME_LENGTH, required=True)
    assert text is not None
    return text


def check_description(description: object) -> str:
    if description is None or (isinstance(description, str) and not description.strip()):
        return ""
    text = rules.check_text("description", description, MAX_DESCRIPTION_LENGTH, required=False, lines=True)
    return text or ""


class Product:
    """One SKU of the catalogue. Commands decide; ``apply`` only assigns.
    Repeating a change (the same price, discontinuing twice) records nothing."""

    def __init__(self, sku: str):
        self.sku = sku
        self.id = product_id(sku)
        self.version = 0
        self.name = ""
        self.description = ""
        self.price_cents = 0
        self.active = False
        self.pending: list[ProductEvent] = []

    @classmethod
    def from_history(cls, sku: str, events: list[ProductEvent], snapshot: dict | None = None) -> "Product":
        product = cls.from_snapshot(sku, snapshot) if snapshot else cls(sku)
        for event in events:
            product.apply(event)
        return product

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def catalogue_price(self) -> CataloguePrice:
        return CataloguePrice(self.sku, self.name, self.price_cents, self.active)

    # -- commands --------------------------------------------------------------

    def add(self, name: str, price_cents: int, description: str | None = "", active: bool = True) -> None:
        if self.exists:
            raise ProductExistsError(f"SKU {self.sku} is already in the catalogue")
        rules.check_sku(self.sku)
        if not isinstance(active, bool):
            raise InvalidOrderDataError("active", "true or false")
        self._record(
            ProductAdded(
                self.sku,
                check_name(name),
                check_description(description),
                rules.check_price(price_cents),
                active,
            )
        )

    def change_price(self, price_cents: int) -> None:
        self._require_exists()
        rules.check_price(price_cents)
        if price_cents != self.price_cents:
            self._record(ProductPriceChanged(self.sku, self.price_cents, price_cents))

    def rename(self, name: str, description: str | None = None) -> None:
        """A new name; the description too when given (None keeps it)."""
        self._require_exists()
        name = check_name(name)
        description = self.description if description is None else check_description(description)
        if (name, description) != (self.name, self.description):
            self._record(ProductRenamed(sku=self.sku, name=name, description=description))

    def discontinue(self) -> None:
        self._require_exists()
        if self.active:
            self._record(ProductDiscontinued(self.sku))

    def reactivate(self) -> None:
        self._require_exists()
        if not self.active:
            self._record(ProductReactivated(self.sku))

    def _require_exists(self) -> None:
        if not self.exists:
            raise ProductNotFoundError(self.sku)

    def _record(self, event: ProductEvent) -> None:
        self.apply(event)
        self.pending.append(event)

    # -- state ---------------------------------------------------------------

    def apply(self, event: ProductEvent) -> None:
        match event:
            case ProductAdded():
                self.name, self.description = event.name, event.description
                self.price_cents, self.active = event.price_cents, event.active
            case ProductPriceChanged():
                self.price_cents = event.price_cents
            case ProductRenamed():
                self.name, self.description = event.name, event.description
            case ProductDiscontinued():
                self.active = False
            case ProductReactivated():
                self.active = True
        self.version += 1

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "price_cents": self.price_cents,
            "active": self.active,
        }

    @classmethod
    def from_snapshot(cls, sku: str, state: dict[str, Any]) -> "Product":
        product = cls(sku)
        product.version = state["version"]
        product.name, product.description = state["name"], state["description"]
        product.price_cents, product.active = state["price_cents"], state["active"]
        return product

    def state(self) -> dict[str, Any]:
        return {"sku": self.sku, **self.to_snapshot()}

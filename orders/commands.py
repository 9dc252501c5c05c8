"""Order, customer and catalogue commands and their handlers (the
inventory's in orders.stock_commands): the only code that appends their events.

The REST API, the web forms and the fulfilment process build a command and
call ``execute``. Each handler loads one aggregate, calls one method on it
and saves what it decided; ``orders.unit_of_work`` wraps it in a transaction,
retries a lost race and records idempotency keys.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

from django.conf import settings
from django.db import transaction

from eventstore import ConcurrencyError
from eventstore.personal import PersonalData
from orders import customer_ids, erasure_guard, metrics, unit_of_work
from orders.domain import DuplicateOrderError, OrderAggregate
from orders.domain.errors import SkuSpelledOtherwiseError
from orders.domain.pricing import as_request
from orders.domain.product import product_id
from orders.domain.shipping import Contact, ShippingAddress
from orders.erasure_guard import DetailsFrom
from orders.idempotency import IdempotencyKey
from orders.repository import (
    CustomerRepository,
    OrderRepository,
    ProductRepository,
)
from orders.stock_commands import HANDLERS as STOCK_HANDLERS
from orders.stock_commands import ReceiveStock, ReleaseStock, ReserveStock, ShipStock
from orders.unit_of_work import CommandResult
from projections import selectors

__all__ = ["CommandResult", "ReceiveStock", "ReleaseStock", "ReserveStock", "ShipStock", "execute"]


@dataclass(frozen=True)
class PlaceOrder:
    """``items``: LineRequests (a Line or an (sku, quantity[, price]) tuple
    is read as one); each is priced from the catalogue."""

    customer_id: str
    items: tuple
    order_id: UUID = field(default_factory=uuid.uuid4)
    # The customer's details (personal data, stored encrypted): both or neither.
    contact: Contact | None = None
    shipping_address: ShippingAddress | None = None
    # Whose file they were filled in from, as it was then (orders.erasure_guard).
    details_from: DetailsFrom | None = None
    # The writer says the id is a new customer's, though a known one differs only in case.
    new_customer: bool = False
    creates_stream: ClassVar[bool] = True


@dataclass(frozen=True)
class ChangeShippingAddress:
    order_id: UUID
    address: ShippingAddress
    details_from: DetailsFrom | None = None  # the address the page showed (orders.erasure_guard)


@dataclass(frozen=True)
class ForgetCustomer:
    """Erase a customer's personal data (staff only, checked at the edge)."""

    customer_id: str


@dataclass(frozen=True)
class AddItem:
    order_id: UUID
    sku: str
    quantity: int
    price_cents: int | None = None
    price_override_reason: str | None = None


@dataclass(frozen=True)
class ChangeLineQuantity:
    order_id: UUID
    sku: str
    quantity: int


@dataclass(frozen=True)
class RejectLine:
    """Issued by the fulfilment process: units it could not reserve leave the order."""

    order_id: UUID
    sku: str
    quantity: int
    reason: str


@dataclass(frozen=True)
class AddNote:
    order_id: UUID
    text: str


@dataclass(frozen=True)
class RemoveItem:
    order_id: UUID
    sku: str


@dataclass(frozen=True)
class ShipOrder:
    order_id: UUID
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True)
class CancelOrder:
    order_id: UUID
    reason: str


@dataclass(frozen=True)
class ConfirmOrder:
    order_id: UUID


@dataclass(frozen=True)
class AddProduct:
    sku: str
    name: str
    price_cents: int
    description: str = ""
    active: bool = True
    creates_stream: ClassVar[bool] = True


@dataclass(frozen=True)
class ChangeProductPrice:
    sku: str
    price_cents: int


@dataclass(frozen=True)
class RenameProduct:
    sku: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class DiscontinueProduct:
    sku: str


@dataclass(frozen=True)
class ReactivateProduct:
    sku: str


# -- handlers: load, decide, save ----------------------------------------------

_change = unit_of_work.change


def _catalogue(skus):
    """The catalogue entries of these SKUs, from the products' event streams (one query)."""
    return ProductRepository().catalogue(skus)


def place_order(cmd: PlaceOrder, expected_version: int | None) -> CommandResult:
    # After the Idempotency-Key lookup (orders.unit_of_work): a replay is answered as before.
    if not cmd.new_customer:
        customer_ids.refuse_spelled_otherwise(
            cmd.customer_id, "Place the order for {known} if it is theirs, or say it is a new customer."
        )
    order = OrderAggregate(cmd.order_id)  # a new stream: the append refuses one that exists
    requests = [as_request(item) for item in cmd.items]
    order.place(
        cmd.customer_id,
        requests,
        requires_confirmation=settings.INVENTORY_RESERVATION,
        catalogue=_catalogue(r.sku for r in requests),
        contact=cmd.contact,
        address=cmd.shipping_address,
    )
    try:
        with erasure_guard.checked(cmd.details_from if cmd.contact or cmd.shipping_address else None):
            appended = OrderRepository().save(order)
    except ConcurrencyError as exc:
        raise DuplicateOrderError(f"order {cmd.order_id} already exists") from exc
    return CommandResult(order.id, appended.version, appended.position, created=True, tx_id=appended.tx_id)


def add_item(cmd: AddItem, expected_version: int | None) -> CommandResult:
    # The order and the product's catalogue entry in one round trip.
    repo = OrderRepository()
    order, streams = repo.get_with(cmd.order_id, expected_version, [product_id(cmd.sku)])
    catalogue = ProductRepository(repo.store).catalogue([cmd.sku], streams)
    add = cmd.sku, cmd.quantity, cmd.price_cents, catalogue, cmd.price_override_reason
    return _change(repo, cmd.order_id, expected_version, lambda order: order.add_item(*add), order)


def change_line_quantity(cmd: ChangeLineQuantity, expected_version: int | None) -> CommandResult:
    return _change(
        OrderRepository(), cmd.order_id, expected_version, lambda o: o.change_quantity(cmd.sku, cmd.quantity)
    )


def reject_line(cmd: RejectLine, expected_version: int | None) -> CommandResult:
    return _change(
        OrderRepository(),
        cmd.order_id,
        expected_version,
        lambda order: order.reject_line(cmd.sku, cmd.quantity, cmd.reason),
    )


def add_note(cmd: AddNote, expected_version: int | None) -> CommandResult:
    return _change(OrderRepository(), cmd.order_id, expected_version, lambda order: order.add_note(cmd.text))


def remove_item(cmd: RemoveItem, expected_version: int | None) -> CommandResult:
    return _change(
        OrderRepository(), cmd.order_id, expected_version, lambda order: order.remove_item(cmd.sku)
    )


def confirm_order(cmd: ConfirmOrder, expected_version: int | None) -> CommandResult:
    return _change(OrderRepository(), cmd.order_id, expected_version, lambda order: order.confirm())


def ship_order(cmd: ShipOrder, expected_version: int | None) -> CommandResult:
    return _change(
        OrderRepository(),
        cmd.order_id,
        expected_version,
        lambda order: order.ship(cmd.carrier, cmd.tracking_number),
    )


def cancel_order(cmd: CancelOrder, expected_version: int | None) -> CommandResult:
    return _change(OrderRepository(), cmd.order_id, expected_version, lambda order: order.cancel(cmd.reason))


def change_shipping_address(cmd: ChangeShippingAddress, expected_version: int | None) -> CommandResult:
    with erasure_guard.checked(cmd.details_from):
        return _change(
            OrderRepository(),
            cmd.order_id,
            expected_version,
            lambda order: order.change_shipping_address(cmd.address),
        )


def forget_customer(cmd: ForgetCustomer, expected_version: int | None) -> CommandResult:
    """Delete the customer's data key (the erasure itself) and record it; in
    one transaction, so a lost race leaves the key for the retry to delete."""
    with transaction.atomic():
        erasure_guard.lock(cmd.customer_id)  # after a command checking their details, or before it
        personal = PersonalData()
        # Personal data sealed under this very id (its orders' details, or a
        # form's kept while it was sent back) is erased, even if a known
        # customer has the id in another case.
        if not personal.has_key(cmd.customer_id):
            customer_ids.refuse_spelled_otherwise(cmd.customer_id, "Forget {known} if that is who asked.")
        deleted = personal.forget(cmd.customer_id)
        return _change(CustomerRepository(), cmd.customer_id, None, lambda c: c.forget(deleted))


def add_product(cmd: AddProduct, expected_version: int | None) -> CommandResult:
    def add(product) -> None:
        # A new SKU only: one on sale already is refused as it exists.
        if not product.exists and (known := selectors.product_sku_in_another_case(cmd.sku)):
            raise SkuSpelledOtherwiseError(cmd.sku, known)
        product.add(cmd.name, cmd.price_cents, cmd.description, cmd.active)

    return _change(ProductRepository(), cmd.sku, expected_version, add)


def change_product_price(cmd: ChangeProductPrice, expected_version: int | None) -> CommandResult:
    return _change(ProductRepository(), cmd.sku, expected_version, lambda p: p.change_price(cmd.price_cents))


def rename_product(cmd: RenameProduct, expected_version: int | None) -> CommandResult:
    return _change(
        ProductRepository(), cmd.sku, expected_version, lambda p: p.rename(cmd.name, cmd.description)
    )


def discontinue_product(cmd: DiscontinueProduct, expected_version: int | None) -> CommandResult:
    return _change(ProductRepository(), cmd.sku, expected_version, lambda p: p.discontinue())


def reactivate_product(cmd: ReactivateProduct, expected_version: int | None) -> CommandResult:
    return _change(ProductRepository(), cmd.sku, expected_version, lambda p: p.reactivate())


HANDLERS: dict[type, unit_of_work.Handler] = {
    PlaceOrder: place_order,
    AddItem: add_item,
    RemoveItem: remove_item,
    ConfirmOrder: confirm_order,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
    ChangeShippingAddress: change_shipping_address,
    ForgetCustomer: forget_customer,
    ChangeLineQuantity: change_line_quantity,
    RejectLine: reject_line,
    AddNote: add_note,
    AddProduct: add_product,
    ChangeProductPrice: change_product_price,
    RenameProduct: rename_product,
    DiscontinueProduct: discontinue_product,
    ReactivateProduct: reactivate_product,
    **STOCK_HANDLERS,
}


def execute(
    command: Any,
    *,
    expected_version: int | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> CommandResult:
    """Run ``command`` through its handler as one unit of work.

    With ``expected_version`` (If-Match) a stale version raises
    ``StaleVersionError`` at once; without it a lost race is retried on fresh
    state. With ``idempotency_key`` a repeated request returns the first
    result and appends nothing.
    """
    handler = HANDLERS[type(command)]
    return metrics.observed(
        type(command).__name__,
        lambda: unit_of_work.run(
            handler, command, expected_version=expected_version, idempotency_key=idempotency_key
        ),
    )

"""The inventory's commands and their handlers: stock received for a SKU of
the catalogue, and reserved, released and shipped for orders (by the
fulfilment process). Run through ``orders.commands.execute``."""

from dataclasses import dataclass
from uuid import UUID

from orders.domain import ProductNotFoundError
from orders.domain.product import product_id
from orders.repository import InventoryRepository, ProductRepository
from orders.unit_of_work import CommandResult, Handler, change


@dataclass(frozen=True)
class ReceiveStock:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock:
    sku: str
    order_id: UUID
    quantity: int
    reference: str


@dataclass(frozen=True)
class ReleaseStock:
    """Release what the order holds of the SKU beyond ``keep`` units."""

    sku: str
    order_id: UUID
    reference: str
    keep: int = 0


@dataclass(frozen=True)
class ShipStock:
    sku: str
    order_id: UUID
    reference: str


def receive_stock(cmd: ReceiveStock, expected_version: int | None) -> CommandResult:
    """Stock of a product of the catalogue (a SKU it lacks is a typo); both read in one round trip."""
    repo = InventoryRepository()
    item, streams = repo.get_with(cmd.sku, expected_version, [product_id(cmd.sku)])
    if cmd.sku not in ProductRepository(repo.store).catalogue([cmd.sku], streams):
        raise ProductNotFoundError(cmd.sku)
    return change(repo, cmd.sku, expected_version, lambda item: item.receive(cmd.quantity), item)


def reserve_stock(cmd: ReserveStock, expected_version: int | None) -> CommandResult:
    return change(
        InventoryRepository(),
        cmd.sku,
        expected_version,
        lambda item: item.reserve(cmd.order_id, cmd.quantity, cmd.reference),
    )


def release_stock(cmd: ReleaseStock, expected_version: int | None) -> CommandResult:
    return change(
        InventoryRepository(),
        cmd.sku,
        expected_version,
        lambda item: item.release(cmd.order_id, cmd.reference, cmd.keep),
    )


def ship_stock(cmd: ShipStock, expected_version: int | None) -> CommandResult:
    return change(
        InventoryRepository(), cmd.sku, expected_version, lambda item: item.ship(cmd.order_id, cmd.reference)
    )


HANDLERS: dict[type, Handler] = {
    ReceiveStock: receive_stock,
    ReserveStock: reserve_stock,
    ReleaseStock: release_stock,
    ShipStock: ship_stock,
}

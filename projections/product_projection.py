"""The products read model: the catalogue as the pages, the SKU suggestions
and GET /api/products/ read it. Works from event names and upcast data."""

from eventstore import RecordedEvent
from projections.base import Projection
from projections.models import CatalogueProduct
from projections.order_events import PRODUCT_EVENTS
from projections.tables import Tables


class ProductCatalogueProjection(Projection):
    name = "products"
    description = "One row per catalogue product: name, description, unit price, sold or discontinued."
    event_types = PRODUCT_EVENTS
    models = {"products": CatalogueProduct}
    group_keys = {"products": "sku"}
    supports_inline = True  # every row belongs to one stream

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        rows = {row["sku"]: row for row in tables.fetch("products", "sku", {e.data["sku"] for e in events})}
        changed: dict[str, int] = {}  # events applied to each product
        for e in events:
            d = e.data
            row = rows.get(d["sku"])
            if row is not None and e.version <= row["version"]:
                continue  # already applied
            if e.event_type == "ProductAdded":
                row = rows[d["sku"]] = {
                    "sku": d["sku"],
                    "name": d["name"],
                    "description": d["description"],
                    "price_cents": d["price_cents"],
                    "active": d["active"],
                    "added_at": e.created_at,
                }
            elif row is None:
                continue  # a product stream always starts with ProductAdded
            elif e.event_type == "ProductPriceChanged":
                row["price_cents"] = d["price_cents"]
            elif e.event_type == "ProductRenamed":
                row.update(name=d["name"], description=d["description"])
            elif e.event_type in ("ProductDiscontinued", "ProductReactivated"):
                row["active"] = e.event_type == "ProductReactivated"
            row.update(version=e.version, updated_at=e.created_at)
            changed[d["sku"]] = changed.get(d["sku"], 0) + 1
        # Only over an older row (see OrderListProjection: partitions may overlap).
        written = tables.upsert_newer("products", "sku", [rows[sku] for sku in changed])
        return sum(changed[sku] for sku in written)

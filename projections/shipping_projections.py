"""The shipping_details projection: each order's contact and shipping
address (order_shipping) and each customer's latest ones (customer_details),
the only read models that hold personal data.

Events arrive with their personal fields decrypted, or reading ERASED once
the customer's key is gone; CustomerForgotten scrubs what the tables hold of
that customer. A row is scrubbed as a whole (every personal field ERASED)
both ways, so a rebuild after an erasure gives exactly the live tables.
"""

from uuid import UUID

from eventstore import RecordedEvent
from eventstore.personal import ERASED, PersonalData
from projections.base import Projection
from projections.order_events import CUSTOMER_EVENTS, SHIPPING_EVENTS
from projections.shipping_models import CustomerDetails, OrderShipping
from projections.tables import Tables

CONTACT_FIELDS = ("name", "email")
ADDRESS_FIELDS = ("address_line1", "address_line2", "postcode", "city")
PERSONAL_FIELDS = (*CONTACT_FIELDS, *ADDRESS_FIELDS)
SCRUBBED = {**dict.fromkeys(PERSONAL_FIELDS, ERASED), "email_hash": "", "erased": True}


def email_key(email: str) -> str:
    """Emails are found case-insensitively."""
    return email.strip().lower()


def _blank(order_id, customer_id: str, event: RecordedEvent) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        **dict.fromkeys(PERSONAL_FIELDS, ""),
        "email_hash": "",
        "country": "",
        "erased": False,
        "version": event.version,
        "updated_at": event.created_at,
    }


def _customer_row(customer_id: str, event: RecordedEvent) -> dict:
    row = _blank(None, customer_id, event)
    del row["order_id"], row["version"]
    return row


class ShippingDetailsProjection(Projection):
    name = "shipping_details"
    description = (
        "Each order's contact and shipping address, and each customer's latest (personal data: "
        "scrubbed when the customer is forgotten)."
    )
    event_types = SHIPPING_EVENTS | CUSTOMER_EVENTS
    models = {"order_shipping": OrderShipping, "customer_details": CustomerDetails}
    group_keys = {"order_shipping": "order_id", "customer_details": "customer_id"}

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        order_ids = {e.aggregate_id for e in events if e.event_type in SHIPPING_EVENTS}
        orders = {row["order_id"]: row for row in tables.fetch("order_shipping", "order_id", order_ids)}
        customer_ids = {e.data["customer_id"] for e in events}
        customers = {
            row["customer_id"]: row for row in tables.fetch("customer_details", "customer_id", customer_ids)
        }
        personal = PersonalData(tables.using)
        changed_orders: set[UUID] = set()
        changed_customers: set[str] = set()
        applied = 0
        for e in events:
            d, customer_id = e.data, e.data["customer_id"]
            if e.event_type == "CustomerForgotten":
                # Every row of theirs: those of this batch here, the others in SQL.
                for order_id, row in orders.items():
                    if row["customer_id"] == customer_id:
                        row.update(SCRUBBED)
                        changed_orders.add(order_id)
                tables.update("order_shipping", "customer_id", customer_id, SCRUBBED)
                # Forgotten without having given any details: their row says so all the same.
                customer = customers.get(customer_id) or customers.setdefault(
                    customer_id, _customer_row(customer_id, e)
                )
                customer.update(SCRUBBED, updated_at=e.created_at)
                changed_customers.add(customer_id)
                applied += 1
                continue
            row = orders.get(e.aggregate_id)
            if row is not None and e.version <= row["version"]:
                continue  # applied already
            if row is None:
                row = orders[e.aggregate_id] = _blank(e.aggregate_id, customer_id, e)
            given = {f: d[f] or "" for f in ADDRESS_FIELDS}
            if e.event_type == "ShippingDetailsGiven":
                given |= {"name": d["name"], "email": d["email"]}
            _fold(row, given, d["country"], personal)
            row.update(version=e.version, updated_at=e.created_at)
            changed_orders.add(e.aggregate_id)
            customer = customers.get(customer_id) or customers.setdefault(
                customer_id, _customer_row(customer_id, e)
            )
            _fold(customer, given, d["country"], personal)
            customer["updated_at"] = e.created_at
            changed_customers.add(customer_id)
            applied += 1
        tables.upsert("order_shipping", ["order_id"], [orders[o] for o in changed_orders])
        tables.upsert("customer_details", ["customer_id"], [customers[c] for c in changed_customers])
        return applied


def _fold(row: dict, given: dict, country: str, personal: PersonalData) -> None:
    """Put what an event gave (some personal fields) into a row. A field
    read as ERASED erases its group (contact, address) as the scrub does, so
    live and rebuilt tables agree; an address given after the erasure (under
    the customer's new key) is kept."""
    row.update(given, country=country)
    for group in (CONTACT_FIELDS, ADDRESS_FIELDS):
        if any(row[f] == ERASED for f in group):
            row.update(dict.fromkeys(group, ERASED))
    if row["email"] == ERASED:
        row["email_hash"] = ""
    elif "email" in given:
        row["email_hash"] = personal.lookup_hash(email_key(given["email"]))
    row["erased"] = ERASED in (row["name"], row["address_line1"])


SHIPPING_PROJECTIONS = (ShippingDetailsProjection(),)

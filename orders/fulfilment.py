"""The fulfilment process manager (a saga across orders and inventory).

Driven by the event log like a projection (checkpointed, gap-safe, one runner
at a time, on Celery with the same nudge-and-beat scheme), it reacts to each
event in its own transaction: the commands it issues, its own state and its
checkpoint commit together, so a crash between steps resumes at the next
event, and an event seen twice changes nothing (commands carry the event as
their reference; handled event ids are remembered).

    OrderPlaced (needs stock)  -> reserve each line        (StockReserved / ReservationRefused)
    every line reserved        -> ConfirmOrder
    a reservation refused      -> CancelOrder "out of stock: ..." (a compensating event)
    ItemAdded / ItemRemoved    -> reserve more / release that line
    OrderCancelled             -> release what is reserved
    OrderShipped               -> ship the reserved stock

Commands carry the triggering event as causation and keep its correlation id,
so the audit trace of one order shows the whole workflow.
"""

import logging
from uuid import UUID

from django.utils import timezone

from eventstore import RecordedEvent
from eventstore.metadata import message_context
from orders import commands
from orders.domain import DomainError
from orders.models import FulfilmentProcess
from orders.repository import StaleVersionError
from projections.base import Projection
from projections.tables import Tables

log = logging.getLogger(__name__)

ORDER_EVENTS = {"OrderPlaced", "ItemAdded", "ItemRemoved", "OrderConfirmed", "OrderShipped", "OrderCancelled"}
STOCK_EVENTS = {"StockReserved", "ReservationRefused", "StockReleased", "StockShipped"}
OPEN = ("reserving", "confirmed")
SYSTEM_USER = "system:fulfilment"
HANDLED_MEMORY = 100


class FulfilmentProcessManager(Projection):
    name = "fulfilment"
    description = (
        "Process manager: reserves stock for orders, confirms them, or cancels them as out of stock."
    )
    event_types = frozenset(ORDER_EVENTS | STOCK_EVENTS)
    # Its state (FulfilmentProcess) is kept through the ORM, one order at a time.
    models = {}
    group_keys = {}
    needs_metadata = True
    transaction_per_event = True
    rebuildable = False

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        return sum(self.handle(event) for event in events)

    def select(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """Only events of orders this process follows: one query per batch
        instead of a transaction per event of every order in the shop."""
        candidates = [e for e in events if e.event_type in self.event_types]
        ids = {_order_of(e) for e in candidates}
        followed = set(FulfilmentProcess.objects.filter(order_id__in=ids).values_list("order_id", flat=True))
        selected = []
        for e in candidates:
            if e.event_type == "OrderPlaced" and e.data.get("requires_confirmation"):
                followed.add(e.aggregate_id)
            if _order_of(e) in followed:
                selected.append(e)
        return selected

    def handle(self, event: RecordedEvent) -> bool:
        order_id = _order_of(event)
        process = FulfilmentProcess.objects.filter(order_id=order_id).first()
        if event.event_type == "OrderPlaced":
            if process is not None or not event.data["requires_confirmation"]:
                return False  # seen already, or an order that needs no stock
            process = self._start(event, order_id)
        elif process is None or str(event.event_id) in process.handled:
            return False  # an order from before fulfilment existed, or a duplicate
        with message_context(
            correlation_id=event.metadata.get("correlation_id") or process.correlation_id,
            causation_id=str(event.event_id),
            user_id=SYSTEM_USER,
        ):
            self._react(process, event, order_id)
            self._decide(process, order_id)
        process.handled = [*process.handled[-(HANDLED_MEMORY - 1) :], str(event.event_id)]
        process.updated_at = timezone.now()
        process.save()
        return True

    def _start(self, event: RecordedEvent, order_id: UUID) -> FulfilmentProcess:
        now = timezone.now()
        return FulfilmentProcess(
            order_id=order_id,
            status="reserving",
            lines={
                i["sku"]: {
                    "wanted": i["quantity"],
                    "reserved": 0,
                    "refused": False,
                    "refs": [f"{event.event_id}:{i['sku']}"],
                }
                for i in event.data["items"]
            },
            correlation_id=event.metadata.get("correlation_id") or "",
            created_at=now,
            updated_at=now,
        )

    def _react(self, process: FulfilmentProcess, event: RecordedEvent, order_id: UUID) -> None:
        d, lines, ref = event.data, process.lines, str(event.event_id)
        kind = event.event_type
        if kind in ORDER_EVENTS:
            process.order_version = event.version
        if kind == "OrderPlaced":
            for sku, line in lines.items():
                self._run(commands.ReserveStock(sku, order_id, line["wanted"], f"{ref}:{sku}"))
        elif kind == "ItemAdded":
            # A line's stock events count only if they answer a reservation
            # asked for this line since it (last) appeared: a removed and re-added
            # SKU must not inherit the old line's late answers.
            line = lines.setdefault(d["sku"], {"wanted": 0, "reserved": 0, "refused": False, "refs": []})
            line["wanted"] += d["quantity"]
            if process.status in OPEN:
                process.status = "reserving"
                line["refs"].append(ref)
                self._run(commands.ReserveStock(d["sku"], order_id, d["quantity"], ref))
        elif kind == "ItemRemoved":
            lines.pop(d["sku"], None)
            self._run(commands.ReleaseStock(d["sku"], order_id, ref))
        elif kind == "OrderConfirmed":
            process.status = "confirmed"
        elif kind == "OrderCancelled":
            process.status = "cancelled"
            for sku, line in lines.items():
                if line["reserved"]:
                    self._run(commands.ReleaseStock(sku, order_id, f"{ref}:{sku}"))
        elif kind == "OrderShipped":
            process.status = "shipped"
            for sku, line in lines.items():
                if line["reserved"]:
                    self._run(commands.ShipStock(sku, order_id, f"{ref}:{sku}"))
        elif kind == "StockReserved":
            line = lines.get(d["sku"])
            if line is None or process.status not in OPEN:
                # Reserved after the line went or the order closed: give it back.
                self._run(commands.ReleaseStock(d["sku"], order_id, ref))
            elif d["reference"] in line.get("refs", ()):
                line["reserved"] += d["quantity"]
        elif kind == "ReservationRefused":
            line = lines.get(d["sku"])
            if line is not None and d["reference"] in line.get("refs", ()):
                line["refused"] = True
                process.outcome = (
                    f"out of stock: {d['sku']} (wanted {d['requested']}, {d['available']} available)"
                )
        elif kind in ("StockReleased", "StockShipped"):
            line = lines.get(d["sku"])
            if line is not None:
                line["reserved"] = 0

    def _decide(self, process: FulfilmentProcess, order_id: UUID) -> None:
        """Confirm or cancel, if the order is where this process last saw it.
        If it has moved on, the event that moved it will bring us back here."""
        if process.status not in OPEN:
            return
        lines = process.lines.values()
        try:
            if any(line["refused"] for line in lines):
                self._run(
                    commands.CancelOrder(order_id, process.outcome or "out of stock"),
                    expected_version=process.order_version,
                )
            elif process.status == "reserving" and all(line["reserved"] >= line["wanted"] for line in lines):
                self._run(commands.ConfirmOrder(order_id), expected_version=process.order_version)
        except StaleVersionError:
            log.debug("order %s moved on; fulfilment will decide on its next event", order_id)
        except DomainError as exc:  # e.g. cancelled by a person meanwhile
            log.info("fulfilment of %s: %s", order_id, exc)

    @staticmethod
    def _run(command, expected_version: int | None = None) -> commands.CommandResult:
        return commands.execute(command, expected_version=expected_version)


def _order_of(event: RecordedEvent) -> UUID:
    return event.aggregate_id if event.event_type in ORDER_EVENTS else UUID(event.data["order_id"])

"""The fulfilment process manager (a saga across orders and inventory).

Driven by the event log like a projection (checkpointed, gap-safe, one runner
at a time, on Celery with the same nudge-and-beat scheme), it reacts to its
events a run at a time (projections.process_runner): the commands it issues,
its own state and its checkpoint commit together, so a crash between steps
resumes after the last commit, and an event seen twice changes nothing
(commands carry the event as their reference; handled event ids are
remembered).

    OrderPlaced (needs stock)  -> reserve each line        (StockReserved / ReservationRefused)
    every line reserved        -> ConfirmOrder
    a reservation refused      -> OUT_OF_STOCK_POLICY=reject_line (default): once every line has
                                  its answer, RejectLine for the units that could not be
                                  reserved (a compensating event on that line only; the order
                                  carries on and is confirmed); CancelOrder only when no line
                                  could be reserved at all.
                                  OUT_OF_STOCK_POLICY=cancel_order: CancelOrder at once.
    ItemAdded / ItemRemoved    -> reserve more / release that line
    LineQuantityChanged        -> reserve the extra units / release what exceeds the new quantity
    OrderCancelled             -> release what is reserved
    OrderShipped               -> ship the reserved stock

Commands carry the triggering event as causation and keep its correlation id,
so the audit trace of one order shows the whole workflow.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from eventstore import ConcurrencyError, RecordedEvent
from eventstore.metadata import message_context
from orders import commands, fulfilment_store, metrics
from orders.domain import DomainError, OrderClosedError, events, inventory, rules
from orders.errors import ContentionError, StaleVersionError
from orders.models import FulfilmentProcess
from projections.base import ProcessManager
from projections.order_events import ORDER_EVENTS, STOCK_EVENTS

log = logging.getLogger(__name__)

OPEN = ("reserving", "confirmed")
SYSTEM_USER = "system:fulfilment"
HANDLED_MEMORY = 100


@dataclass
class Step:
    """One event being handled: the order's process, and the event's id (the
    reference its commands carry, so a repeat changes nothing)."""

    process: FulfilmentProcess
    order_id: UUID
    ref: str

    @property
    def lines(self) -> dict:
        return self.process.lines


def _run(command, expected_version: int | None = None) -> commands.CommandResult:
    return commands.execute(command, expected_version=expected_version)


# -- one reaction per event type ----------------------------------------------------


def _on_placed(step: Step, fact: events.OrderPlaced) -> None:
    for sku, line in step.lines.items():
        _run(commands.ReserveStock(sku, step.order_id, line["wanted"], f"{step.ref}:{sku}"))


def _on_item_added(step: Step, fact: events.ItemAdded) -> None:
    # A line's stock events count only if they answer a reservation asked
    # for this line since it (last) appeared: a removed and re-added SKU
    # must not inherit the old line's late answers.
    line = step.lines.setdefault(fact.sku, {"wanted": 0, "reserved": 0, "refused": False, "refs": []})
    line["wanted"] += fact.quantity
    if step.process.status in OPEN:
        step.process.status = "reserving"
        line["refs"].append(step.ref)
        _run(commands.ReserveStock(fact.sku, step.order_id, fact.quantity, step.ref))


def _on_quantity_changed(step: Step, fact: events.LineQuantityChanged) -> None:
    line = step.lines.get(fact.sku)
    if line is None:
        return
    line["wanted"] += fact.quantity - fact.old_quantity
    if fact.quantity > fact.old_quantity and step.process.status in OPEN:
        step.process.status = "reserving"
        line["refs"].append(step.ref)
        _run(commands.ReserveStock(fact.sku, step.order_id, fact.quantity - fact.old_quantity, step.ref))
    elif fact.quantity < fact.old_quantity:
        # The inventory knows what it holds for the order (answers may still be on their way here).
        _run(commands.ReleaseStock(fact.sku, step.order_id, step.ref, keep=fact.quantity))


def _on_line_rejected(step: Step, fact: events.LineRejected) -> None:
    line = step.lines.get(fact.sku)
    if line is None:
        return
    if fact.remaining_quantity:
        line.update(wanted=fact.remaining_quantity, refused=False, shortage="")
    else:
        step.lines.pop(fact.sku)
        if line["reserved"]:
            _run(commands.ReleaseStock(fact.sku, step.order_id, step.ref))


def _on_note(step: Step, fact: events.NoteAdded) -> None:
    pass  # changes nothing for stock (its version is recorded all the same)


def _on_item_removed(step: Step, fact: events.ItemRemoved) -> None:
    step.lines.pop(fact.sku, None)
    _run(commands.ReleaseStock(fact.sku, step.order_id, step.ref))


def _on_confirmed(step: Step, fact: events.OrderConfirmed) -> None:
    step.process.status = "confirmed"


def _on_cancelled(step: Step, fact: events.OrderCancelled) -> None:
    step.process.status = "cancelled"
    for sku, line in step.lines.items():
        if line["reserved"]:
            _run(commands.ReleaseStock(sku, step.order_id, f"{step.ref}:{sku}"))


def _on_shipped(step: Step, fact: events.OrderShipped) -> None:
    step.process.status = "shipped"
    for sku, line in step.lines.items():
        if line["reserved"]:
            _run(commands.ShipStock(sku, step.order_id, f"{step.ref}:{sku}"))


def _on_reserved(step: Step, fact: inventory.StockReserved) -> None:
    line = step.lines.get(fact.sku)
    if line is None or step.process.status not in OPEN:
        # Reserved after the line went or the order closed: give it back.
        _run(commands.ReleaseStock(fact.sku, step.order_id, step.ref))
    elif fact.reference in line.get("refs", ()):
        line["reserved"] += fact.quantity


def _on_refused(step: Step, fact: inventory.ReservationRefused) -> None:
    line = step.lines.get(fact.sku)
    if line is not None and fact.reference in line.get("refs", ()):
        line["refused"] = True
        metrics.reservation_refused()
        line["shortage"] = f"{fact.sku} (wanted {fact.requested}, {fact.available} available)"
        step.process.outcome = f"out of stock: {line['shortage']}"


def _on_shipping_details(step: Step, fact) -> None:
    """Nothing to reserve; the order's version moved on (handle() keeps it)."""


def _on_stock_gone(step: Step, fact: inventory.StockReleased | inventory.StockShipped) -> None:
    line = step.lines.get(fact.sku)
    if line is not None:
        line["reserved"] = max(0, line["reserved"] - fact.quantity)


REACTIONS: dict[type, Callable[[Step, object], None]] = {
    events.OrderPlaced: _on_placed,
    events.ItemAdded: _on_item_added,
    events.ItemRemoved: _on_item_removed,
    events.LineQuantityChanged: _on_quantity_changed,
    events.LineRejected: _on_line_rejected,
    events.NoteAdded: _on_note,
    events.OrderConfirmed: _on_confirmed,
    events.OrderCancelled: _on_cancelled,
    events.OrderShipped: _on_shipped,
    events.ShippingDetailsGiven: _on_shipping_details,
    events.ShippingAddressChanged: _on_shipping_details,
    inventory.StockReserved: _on_reserved,
    inventory.ReservationRefused: _on_refused,
    inventory.StockReleased: _on_stock_gone,
    inventory.StockShipped: _on_stock_gone,
}


def _short(line: dict) -> bool:
    """Some units of the line were refused and are not reserved."""
    return line["refused"] and line["reserved"] < line["wanted"]


def _decide(process: FulfilmentProcess, order_id: UUID) -> None:
    """Confirm, reject a line or cancel, if the order is where this process
    last saw it. If it has moved on, the event that moved it will bring us
    back here. One command per call: its event brings us back for the next."""
    if process.status not in OPEN:
        return
    lines = process.lines
    try:
        if any(_short(line) for line in lines.values()):
            _compensate(process, order_id)
        elif process.status == "reserving" and all(
            line["reserved"] >= line["wanted"] for line in lines.values()
        ):
            _run(commands.ConfirmOrder(order_id), expected_version=process.order_version)
    except StaleVersionError:
        log.debug("order %s moved on; fulfilment will decide on its next event", order_id)
    except OrderClosedError as exc:  # cancelled (or shipped) by a person meanwhile
        log.info("fulfilment of %s: %s", order_id, exc)
    except DomainError as exc:
        # The order still waits, and nothing will move it but a person: say so.
        log.warning("fulfilment of %s could not decide: %s; the order still waits", order_id, exc)


def _compensate(process: FulfilmentProcess, order_id: UUID) -> None:
    """Some stock could not be reserved. Under reject_line, once every line
    has its answer, reject the units of one short line (or cancel if no line
    got any stock); under cancel_order, cancel at once."""
    lines = process.lines
    if settings.OUT_OF_STOCK_POLICY == "reject_line":
        if any(not line["refused"] and line["reserved"] < line["wanted"] for line in lines.values()):
            return  # answers still on their way
        if any(line["reserved"] for line in lines.values()) or not all(map(_short, lines.values())):
            sku, line = next((sku, line) for sku, line in sorted(lines.items()) if _short(line))
            reason = f"out of stock: {line.get('shortage') or sku}"
            command = commands.RejectLine(order_id, sku, line["wanted"] - line["reserved"], reason)
            _run(command, expected_version=process.order_version)
            return
        process.outcome = _out_of_stock([line.get("shortage") or sku for sku, line in sorted(lines.items())])
    _run(
        commands.CancelOrder(order_id, process.outcome or "out of stock"),
        expected_version=process.order_version,
    )


def _out_of_stock(shortages: list[str]) -> str:
    """Why an order none of whose lines got stock is cancelled, as long as a
    reason may be: a long order names its first lines and counts the rest
    (a reason over the limit would be refused, and the order left waiting)."""
    reason = "out of stock: " + ", ".join(shortages)
    shown = len(shortages)
    while len(reason) > rules.MAX_REASON_LENGTH and shown > 1:
        shown -= 1
        rest = len(shortages) - shown
        reason = f"out of stock: {', '.join(shortages[:shown])} and {rest} more line{'s' if rest > 1 else ''}"
    return reason[: rules.MAX_REASON_LENGTH]


def _fact(event: RecordedEvent):
    """The event as the domain's typed object (its data is already upcast)."""
    if event.event_type in ORDER_EVENTS:
        return events.event_from_data(event.event_type, event.data)
    return inventory.inventory_event_from_data(event.event_type, event.data)


def _order_of(event: RecordedEvent) -> UUID:
    return event.aggregate_id if event.event_type in ORDER_EVENTS else UUID(event.data["order_id"])


class FulfilmentProcessManager(ProcessManager):
    name = "fulfilment"
    description = (
        "Process manager: reserves stock for orders and confirms them; rejects lines (or cancels "
        "orders) it cannot reserve."
    )
    event_types = ORDER_EVENTS | STOCK_EVENTS
    retry_on = (ConcurrencyError, ContentionError)

    def select(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """Only events of orders this process follows: one query per batch
        instead of handling every event of every order in the shop."""
        candidates = [e for e in events if e.event_type in self.event_types]
        followed = fulfilment_store.followed({_order_of(e) for e in candidates})
        selected = []
        for e in candidates:
            if e.event_type == "OrderPlaced" and e.data.get("requires_confirmation"):
                followed.add(e.aggregate_id)
            if _order_of(e) in followed:
                selected.append(e)
        return selected

    def handle(self, event: RecordedEvent) -> bool:
        order_id, fact = _order_of(event), _fact(event)
        process = fulfilment_store.load(order_id)
        if isinstance(fact, events.OrderPlaced):
            if process is not None or not fact.requires_confirmation:
                return False  # seen already, or an order that needs no stock
            process = _start(event, fact, order_id)
        elif process is None or str(event.event_id) in process.handled:
            return False  # an order from before fulfilment existed, or a duplicate
        if event.event_type in ORDER_EVENTS:
            process.order_version = event.version
        with message_context(
            correlation_id=event.metadata.get("correlation_id") or process.correlation_id,
            causation_id=str(event.event_id),
            user_id=SYSTEM_USER,
        ):
            REACTIONS[type(fact)](Step(process, order_id, str(event.event_id)), fact)
            _decide(process, order_id)
        process.handled = [*process.handled[-(HANDLED_MEMORY - 1) :], str(event.event_id)]
        process.updated_at = timezone.now()
        fulfilment_store.save(process)
        return True


def _start(event: RecordedEvent, fact: events.OrderPlaced, order_id: UUID) -> FulfilmentProcess:
    now = timezone.now()
    return FulfilmentProcess(
        order_id=order_id,
        status="reserving",
        lines={
            line.sku: {
                "wanted": line.quantity,
                "reserved": 0,
                "refused": False,
                "refs": [f"{event.event_id}:{line.sku}"],
            }
            for line in fact.items
        },
        correlation_id=event.metadata.get("correlation_id") or "",
        created_at=now,
        updated_at=now,
    )

"""The one road every command travels: a unit of work around its handler.

    look up the Idempotency-Key  ->  load, decide, append (the handler)  ->  remember the key

One transaction holds it all when something is kept beside the events (an
idempotency record, an inline read model); otherwise the append is a single
atomic statement, guarded by the version the aggregate was loaded at. A lost
race is retried on fresh state unless the caller pinned a version (If-Match).
"""

import random
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction

from eventstore import ConcurrencyError, EventStore, GlobalPosition, hooks
from eventstore.metadata import current_context, message_context
from orders import idempotency, metrics
from orders.errors import ContentionError, IdempotencyRaceError, StaleVersionError, StreamRaceLost

# Each lost race means another command on the stream won, so N clients
# racing on one order all get through within N attempts; ten covers a burst
# of eight with room to spare before a 409 asks the client to retry.
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class CommandResult:
    """The stream a command wrote to (an order, or a SKU's inventory), its
    version and the position of its last event. ``changed`` is False when the
    command found nothing to do (a repeated confirmation, a duplicate
    reservation): then no event was appended."""

    order_id: UUID
    version: int
    position: int
    created: bool = False
    replayed: bool = False
    changed: bool = True
    tx_id: int = 0

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id

    @property
    def consistency_token(self) -> str:
        """Names the last event appended: send it as X-Min-Position on a read."""
        return GlobalPosition(self.tx_id, self.position).token

    def to_data(self) -> dict[str, Any]:
        return {
            "order_id": str(self.order_id),
            "version": self.version,
            "position": self.position,
            "consistency_token": self.consistency_token,
        }


Handler = Callable[[Any, int | None], CommandResult]


def change(
    repo: Any, key, expected_version: int | None, decide: Callable[[Any], None], loaded=None
) -> CommandResult:
    """Load the aggregate at ``key`` (at ``expected_version`` if given)
    unless given (``loaded``), let it decide, append what it decided."""
    aggregate = repo.get(key, expected_version) if loaded is None else loaded
    loaded = aggregate.version
    decide(aggregate)
    appended = repo.save(aggregate)
    if appended is None:  # nothing to do: no event; the token names the stream's last one
        head = repo.head(aggregate)
        return CommandResult(aggregate.id, loaded, head.position, changed=False, tx_id=head.tx_id)
    return CommandResult(
        aggregate.id, appended.version, appended.position, created=loaded == 0, tx_id=appended.tx_id
    )


def run(
    handler: Handler,
    command: Any,
    *,
    expected_version: int | None = None,
    idempotency_key: idempotency.IdempotencyKey | None = None,
) -> CommandResult:
    """Run ``handler(command, expected_version)`` as a unit of work, retrying
    a lost race; see the module docstring."""
    attempt = _Attempt(handler, command, expected_version, idempotency_key)
    subject = "the order"
    for n in range(1, MAX_ATTEMPTS + 1):
        try:
            return attempt.run()
        except ConcurrencyError as exc:
            if isinstance(exc, StreamRaceLost):  # as the repository named it
                subject = exc.subject or subject
            answer = attempt.after_lost_race(exc)
            if answer is not None:
                return answer
            metrics.RETRIES.labels(attempt.name).inc()
        except IdempotencyRaceError:
            pass  # the other request committed; the next attempt returns its result
        if n < MAX_ATTEMPTS:
            time.sleep(random.uniform(0, min(0.05, 0.002 * 2**n)))
    raise ContentionError(
        f"{attempt.name}: {subject} changed {MAX_ATTEMPTS} times while the command ran; try again"
    )


class _Attempt:
    def __init__(self, handler: Handler, command: Any, expected_version, idem):
        self.handler, self.command = handler, command
        self.expected_version, self.idem = expected_version, idem
        self.name = type(command).__name__
        self.command_id = str(uuid.uuid4())

    def run(self) -> CommandResult:
        with self._unit_of_work(), self._metadata():
            if (stored := self._stored()) is not None:
                return stored
            try:
                result = self.handler(self.command, self.expected_version)
            except StaleVersionError:
                # The version moved on after the lookup above: possibly
                # because this same request, sent earlier, just committed.
                if (stored := self._stored()) is not None:
                    return stored
                raise
            if self.idem is not None and result.changed:
                idempotency.remember(self.idem, self.name, result.to_data())
            return result

    def after_lost_race(self, exc: ConcurrencyError) -> CommandResult | None:
        """Another writer got to the stream first (this attempt's transaction
        has rolled back): None to retry on fresh state, the first answer of
        this same request sent earlier, or an error for the caller."""
        if exc.actual_version == exc.expected_version and transaction.get_connection().in_atomic_block:
            # Refused for global ordering (see EventStore.append): only the
            # caller's transaction, retried anew, can get past it.
            raise exc
        if self.expected_version is None:
            return None
        if (stored := self._stored()) is not None:
            return stored
        named = isinstance(exc, StreamRaceLost)
        raise StaleVersionError(
            exc.aggregate_id,
            self.expected_version,
            exc.actual_version,
            exc.noun if named else "order",
            exc.subject if named else "",
        ) from exc

    def _unit_of_work(self):
        # Inside a caller's transaction (a process manager's step) a savepoint
        # keeps a lost race from aborting it, so the retry can run.
        needs_transaction = (
            self.idem is not None or hooks.needs_transaction() or transaction.get_connection().in_atomic_block
        )
        return transaction.atomic() if needs_transaction else nullcontext()

    def _metadata(self):
        # A command outside any request or workflow starts its own correlation.
        context = current_context()
        return message_context(
            command=self.name,
            causation_id=context.causation_id or self.command_id,
            correlation_id=context.correlation_id or self.command_id,
        )

    def _stored(self) -> CommandResult | None:
        return stored_result(self.command, self.idem)


def stored_result(command: Any, idem: idempotency.IdempotencyKey | None) -> CommandResult | None:
    """The first answer to the request ``command`` came in, if it was sent
    with a key and has committed."""
    if idem is None or (stored := idempotency.lookup(idem)) is None:
        return None
    if "consistency_token" in stored:
        tx_id = GlobalPosition.from_token(stored["consistency_token"]).tx_id
    else:  # remembered before tokens existed
        tx_id = (EventStore().global_position_of(stored["position"]) or GlobalPosition(0, 0)).tx_id
    return CommandResult(
        UUID(stored["order_id"]),
        stored["version"],
        stored["position"],
        created=getattr(command, "creates_stream", False),
        replayed=True,
        tx_id=tx_id,
    )

"""What every command reports: a count by type and outcome, its latency,
lost races retried and idempotent replays (Prometheus, see config.metrics),
and one log line; and the fulfilment process's refused reservations."""

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram

from config import redact
from config.logs import claim_request_line
from config.metrics import after_commit, labelled
from eventstore import EventSchemaError
from orders.domain import (
    DomainError,
    InvalidOrderDataError,
    LineNotFoundError,
    OrderNotFoundError,
    ProductNotFoundError,
)
from orders.errors import ContentionError, IdempotencyKeyReusedError, IdempotencyRaceError, StaleVersionError

log = logging.getLogger("orders.commands")

COMMANDS = Counter(
    "orders_commands",
    "Commands by type and outcome: ok, unchanged (nothing to do), replayed (Idempotency-Key), "
    "rejected (409: the rules forbid it), conflict (412 stale If-Match, 409 contention), "
    "invalid (400/422), not_found (404), error (500)",
    ["command", "outcome"],
)
DURATION = Histogram(
    "orders_command_duration_seconds",
    "Time to run a command through its unit of work (any outcome)",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RETRIES = Counter(
    "orders_command_retries", "Optimistic-concurrency races lost and retried on fresh state", ["command"]
)
REPLAYS = Counter(
    "orders_idempotent_replays",
    "Commands answered from an earlier Idempotency-Key (nothing appended)",
    ["command"],
)
RESERVATIONS_REFUSED = Counter(
    "fulfilment_reservations_refused", "Reservations the fulfilment process saw refused for lack of stock"
)


_commands, _duration, _replays = labelled(COMMANDS), labelled(DURATION), labelled(REPLAYS)


def outcome_of(exc: BaseException) -> str:
    """The outcome label of a command that raised ``exc``."""
    if isinstance(exc, StaleVersionError | ContentionError | IdempotencyRaceError):
        return "conflict"
    if isinstance(exc, OrderNotFoundError | LineNotFoundError | ProductNotFoundError):
        return "not_found"
    if isinstance(exc, InvalidOrderDataError | EventSchemaError | IdempotencyKeyReusedError):
        return "invalid"
    if isinstance(exc, DomainError):
        return "rejected"
    return "error"


def observed(name: str, run: Callable[[], Any]) -> Any:
    """Run a command (``run()``), counting, timing and logging it."""
    started = time.perf_counter()
    line = claim_request_line(name)  # before run(): a command nested in it must not take it
    try:
        result = run()
    except Exception as exc:
        outcome = outcome_of(exc)
        seconds = _record(name, outcome, started)
        level = logging.WARNING if outcome == "error" else logging.INFO
        # A schema error quotes the values it refused, and some are personal
        # data; so does a database error's DETAIL (see config.redact).
        why = type(exc).__name__ if isinstance(exc, EventSchemaError) else redact.message(exc)
        if line is not None:
            line.update(_fields(name, outcome, seconds, timed="command_ms", reason=why))
        if outcome == "error" or line is None:
            log.log(
                level,
                "command %s %s: %s",
                name,
                outcome,
                why,
                extra=_fields(name, outcome, seconds, reason=why),
            )
        raise
    outcome = "replayed" if result.replayed else "ok" if result.changed else "unchanged"
    seconds = _record(name, outcome, started, replayed=result.replayed)
    done = {"aggregate_id": str(result.aggregate_id), "version": result.version, "position": result.position}
    if line is not None:  # served by a request: on the request's line
        line.update(_fields(name, outcome, seconds, timed="command_ms", **done))
    else:
        # Logged when it commits (as counted), with the fields bound now.
        fields, bound_now = _fields(name, outcome, seconds, **done), contextvars.copy_context()
        after_commit(lambda: bound_now.run(log.info, "command %s %s", name, outcome, extra=fields))
    return result


def _record(name: str, outcome: str, started: float, replayed: bool = False) -> float:
    """Count and time a command. One that did its work inside a transaction
    (a process manager's run of events) is counted when that commits: rolled
    back with it, it did nothing, and is counted when it is run again. A
    refusal or an error is an attempt that failed, counted at once (it may
    be what rolls the transaction back)."""
    seconds = time.perf_counter() - started

    def count() -> None:
        if replayed:
            _replays(name).inc()
        _duration(name).observe(seconds)
        _commands(name, outcome).inc()

    if outcome in ("ok", "unchanged", "replayed"):
        after_commit(count)
    else:
        count()
    return seconds


def _fields(
    name: str, outcome: str, seconds: float, *, timed: str = "duration_ms", **more: Any
) -> dict[str, Any]:
    """A command's log fields; on a request's line its time is ``command_ms``
    (the line's ``duration_ms`` is the request's)."""
    return {"command": name, "outcome": outcome, timed: round(seconds * 1000, 2), **more}


def reservation_refused() -> None:
    after_commit(RESERVATIONS_REFUSED.inc)

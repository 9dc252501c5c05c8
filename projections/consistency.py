"""Read-your-writes: how far the read models behind a read have got, and
waiting (bounded) until they include a command's events.

A command hands out a consistency token naming its last event (its place in
the (transaction id, position) order projections follow); a read given one
waits until its read models have passed that place. The bare position of the
first API version is still accepted, looked up to the same place. The
start of the log (position 0, the token of zeros) names no event and needs
no waiting: every read is past it.
"""

import re
import time

from django.conf import settings

from config.replicas import current as current_replica
from config.replicas import read_alias, use_primary
from eventstore import START, EventStore, GlobalPosition
from projections import checkpoints
from projections.base import registry
from projections.runner import run_all

_BARE_POSITION = re.compile(r"\s*([0-9]{1,18})\s*")


class InvalidConsistencyTokenError(ValueError):
    """Neither a consistency token nor a position of an event in the log."""


def parse_token(raw: str, store: EventStore | None = None) -> GlobalPosition:
    """The place in the log a client's token (or bare position) names; it
    must name an event that exists (on the primary, when the replica this
    request reads has not replayed it yet)."""
    stores = [store] if store else [EventStore(), EventStore(using="default")]
    if match := _BARE_POSITION.fullmatch(raw):
        position = int(match.group(1))
        if position == 0:
            return START
        found = next((f for s in stores if (f := s.global_position_of(position)) is not None), None)
        if found is None:
            raise InvalidConsistencyTokenError(f"no event has position {position}")
        return found
    try:
        target = GlobalPosition.from_token(raw.strip())
    except ValueError:
        raise InvalidConsistencyTokenError("not a consistency token or position") from None
    if target == START:
        return START
    if not any(s.global_position_of(target.position) == target for s in stores):
        raise InvalidConsistencyTokenError("the token names no event of this log")
    return target


def reached(names: tuple[str, ...]) -> GlobalPosition:
    """The place in the log every one of ``names`` has passed (on the
    database this request reads)."""
    found = checkpoints.read(expand(names), read_alias())
    if len(found) < len(expand(names)):
        return GlobalPosition(0, 0)
    return min(cp.global_position for cp in found.values())


def projection_position(names: tuple[str, ...]) -> int:
    """Position of the last event every one of ``names`` has applied (the
    first API version's header; not comparable with command positions)."""
    found = checkpoints.read(expand(names), read_alias())
    return min(cp.position for cp in found.values()) if len(found) == len(expand(names)) else 0


def wait_for(names: tuple[str, ...], target: GlobalPosition, timeout: float | None = None) -> bool:
    """Wait until each of ``names`` has passed ``target``; False if
    ``timeout`` (READ_YOUR_WRITES_TIMEOUT) passes first.

    On a read replica it waits for the replica's own checkpoints (what the
    request will read there) for up to REPLICA_WAIT_SECONDS, then moves the
    rest of the request to the primary and waits there."""
    if target == START:
        return True
    timeout = settings.READ_YOUR_WRITES_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    names = expand(names)
    if (replica := current_replica()) is not None:
        if _wait(names, target, min(deadline, time.monotonic() + settings.REPLICA_WAIT_SECONDS), replica):
            return True
        use_primary()
    return _wait(names, target, deadline, "default")


def _wait(names: tuple[str, ...], target: GlobalPosition, deadline: float, using: str) -> bool:
    # Inline read models count too: one that lags takes events the async way
    # (see projections.inline), and its checkpoint is what says it has them.
    delay = 0.005
    while True:
        if settings.PROJECTIONS_MODE == "inprocess" and using == "default":
            run_all()  # no worker in this mode: the reader drives the projections
        if checkpoints.all_reached(target, names, using):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def wait_for_event(target: GlobalPosition) -> bool:
    """For reads of the event log itself (an order's history, its state at
    a time): the log this request reads must hold ``target``, and so every
    commit before it. A replica is given REPLICA_WAIT_SECONDS to replay it;
    then the rest of the request reads the primary, which has it (the token
    was checked to name an event). False when it moved to the primary."""
    replica = current_replica()
    if replica is None:
        return True
    store = EventStore(using=replica)
    deadline = time.monotonic() + settings.REPLICA_WAIT_SECONDS
    delay = 0.005
    while store.global_position_of(target.position) != target:
        if time.monotonic() >= deadline:
            use_primary()
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return True


def log_reached() -> GlobalPosition:
    """A place up to which the event log this request reads is complete:
    its furthest checkpoint (a runner moves one only past events committed
    before it, in the same order, so a replica that has the checkpoint has
    them). The log may hold later events too."""
    rows = checkpoints.fetch(
        read_alias(),
        "SELECT tx_id, position FROM projection_checkpoints ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    return GlobalPosition(*rows[0]) if rows else GlobalPosition(0, 0)


def expand(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with each partitioned projection as its partitions."""
    return tuple(n for name in names for n in registry.checkpoint_names(name))


def wait_for_token(names: tuple[str, ...], raw: str, timeout: float | None = None) -> bool:
    """``wait_for`` the place a page's ``?after=`` names; True at once (the
    page shows what it has) when it names nothing."""
    try:
        target = parse_token(raw)
    except InvalidConsistencyTokenError:
        return True
    return wait_for(names, target, timeout)

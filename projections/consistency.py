"""Read-your-writes: how far the read models behind a read have got, and
waiting (bounded) until they include a command's events."""

import time

from django.conf import settings

from eventstore import EventStore, GlobalPosition
from projections import checkpoints
from projections.base import INLINE, registry
from projections.runner import run_all


def projection_position(names: tuple[str, ...]) -> int:
    """Position of the last event every one of ``names`` has applied."""
    found = checkpoints.read(list(names), "default")
    return min(cp.position for cp in found.values()) if len(found) == len(names) else 0


def wait_for_position(names: tuple[str, ...], position: int, timeout: float | None = None) -> bool:
    """Wait until each of ``names`` has applied the event at ``position`` (a
    consistency token from a command); False if ``timeout`` passes first."""
    timeout = settings.READ_YOUR_WRITES_TIMEOUT if timeout is None else timeout
    # Inline read models change in the command's own transaction: nothing to wait for.
    names = tuple(n for n in names if n not in registry or registry.get(n).consistency != INLINE)
    if not names:
        return True
    deadline = time.monotonic() + timeout
    store = EventStore()
    target: GlobalPosition | None = None
    delay = 0.005
    while True:
        if target is None:
            target = store.global_position_of(position)
        if target is not None and settings.PROJECTIONS_MODE == "inprocess":
            run_all()  # no worker in this mode: the reader drives the projections
        if target is not None and checkpoints.all_reached(target, names):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.02)

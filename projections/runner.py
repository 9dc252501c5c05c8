"""Runs projections and process managers through the global log.

``run_all`` is what a Celery task, beat and the in-process mode call: it
catches every projection up (sharing reads of the log between those at the
same checkpoint) and lets each process manager handle its events; a failing
one never holds the others back. The work itself is in ``batches`` (read
models, one transaction per batch) and ``process_runner`` (process
managers, a short run of events per transaction).
"""

import itertools
import logging
import random
import threading
import time

from config import logs
from eventstore import GlobalPosition
from projections import checkpoints
from projections.base import Follower, Partition, Projection, registry
from projections.batches import run_batch
from projections.process_runner import run_events

log = logging.getLogger(__name__)

_running = threading.local()

# A process manager's commands take a while (each event is a command or two),
# so a long batch does too: the read models get a turn after each slice.
MANAGER_SLICE_SECONDS = 0.05


def running_here() -> bool:
    """Whether this thread is inside ``run_all`` (its loop picks up what is
    committed meanwhile)."""
    return getattr(_running, "active", False)


def run_projection(
    follower: Follower,
    *,
    using: str = "default",
    time_budget: float | None = None,
    max_batches: int | None = None,
) -> int:
    """Run batches until caught up, held, out of time or out of batches; the
    number of events read."""
    checkpoints.ensure(using)
    deadline = time.monotonic() + time_budget if time_budget else None
    total, batches = 0, 0
    step = run_batch if isinstance(follower, Projection) else run_events
    while True:
        result = step(follower, using=using)
        total += result.read
        batches += 1
        if result.read == 0 or result.held:
            return total
        if (deadline and time.monotonic() > deadline) or (max_batches and batches >= max_batches):
            return total


def lanes() -> list[list[Projection]]:
    """The read models in groups a runner advances one transaction each:
    the unpartitioned ones together, then partition k of every partitioned
    one. Runners on several workers start at different lanes, so they
    advance different partitions at once."""
    main, parts = [], {}
    for projection in registry.projections():
        if isinstance(projection, Partition):
            parts.setdefault(projection.index, []).append(projection)
        else:
            main.append(projection)
    return [lane for lane in [main, *(parts[k] for k in sorted(parts))] if lane]


def run_all(
    *, using: str = "default", time_budget: float | None = None, busy: set[str] | None = None
) -> dict[str, int]:
    """Catch every projection up; how many events each passed. Those that
    another runner was advancing are added to ``busy``."""
    if running_here():
        return {}  # called again from a commit inside a run: the outer loop goes on
    # A request running this in-process: what the process managers do is not its command.
    with logs.outside_request():
        return _run_all(using, time_budget, busy)


def _run_all(using: str, time_budget: float | None, busy: set[str] | None) -> dict[str, int]:
    deadline = time.monotonic() + time_budget if time_budget else None
    active = lanes()
    managers = registry.process_managers()
    passed = dict.fromkeys((f.name for f in registry.all()), 0)
    start = next(_turn) % max(len(active), 1)
    active = active[start:] + active[:start]
    _running.active = True
    try:
        while active or managers:
            # Another round only while a batch was full, some projection is
            # still behind, or a process manager appended events in this run
            # (in-process mode counts on this loop for them); other commits
            # after this run started nudge a run of their own.
            progress = False
            done_here: set[str] = set()
            for n, lane in enumerate(active):
                # Process managers with nothing to do in the batch pass it
                # there, from the same read of the log (with the first lane).
                result = run_batch(lane, using=using, managers=managers if n == 0 else [])
                if busy is not None:
                    busy |= result.busy
                for name, count in result.passed.items():
                    passed[name] += count
                done_here |= {m.name for m in managers if m.name in result.passed}
                # One stopping at a failing event must not hold the others back.
                active[n] = [p for p in lane if p.name not in result.stopped]
                progress = progress or result.more or bool(result.stopped)
            active = [lane for lane in active if lane]
            for manager in list(managers):
                if manager.name in done_here:
                    continue
                outcome = run_events(manager, using=using, time_budget=MANAGER_SLICE_SECONDS)
                passed[manager.name] += outcome.read
                if busy is not None:
                    busy |= outcome.busy
                if outcome.stopped:
                    managers.remove(manager)
                progress = progress or outcome.more or outcome.applied > 0
            if not progress or (deadline and time.monotonic() > deadline):
                break
    except Exception:  # e.g. the database went away: log, let the next run retry
        log.exception("projections could not run")
    finally:
        _running.active = False
    return passed


# Where this process's runs start among the lanes (a different lane each time).
_turn = itertools.count(random.randrange(1 << 16))


def has_new_events(using: str = "default") -> bool:
    """Whether the log holds events past the checkpoint furthest behind
    (committed, not necessarily readable yet): one cheap statement, what a
    following run polls with."""
    names = [f.name for f in registry.all()]
    if not names:
        return False
    clause, params = checkpoints.name_in(using, names)
    [(found,)] = checkpoints.fetch(
        using,
        "SELECT EXISTS (SELECT 1 FROM events e, (SELECT tx_id, position FROM projection_checkpoints"
        f" WHERE {clause} ORDER BY tx_id, position LIMIT 1) c"
        " WHERE (e.tx_id, e.position) > (c.tx_id, c.position))",
        params,
    )
    return bool(found)


def catch_up_to(target: GlobalPosition | None, *, using: str = "default", timeout: float = 2.0) -> bool:
    """Run the projections until they have applied ``target`` (in-process mode)."""
    if running_here():
        return True  # committed from inside a run: that run goes on to the new events
    deadline = time.monotonic() + timeout
    names = tuple(f.name for f in registry.all())
    delay = 0.005
    while True:
        run_all(using=using, time_budget=timeout)
        if target is None or checkpoints.all_reached(target, names, using):
            return True
        if time.monotonic() >= deadline:
            log.warning("projections have not reached %s after %.1f s; the next run will", target, timeout)
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)

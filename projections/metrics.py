"""What the projection runners count as they go (Prometheus, see
config.metrics): events passed and applied, batch durations, failed
attempts, process-manager retries. Where each projection stands (position,
lag, held) is read from the database at scrape time: projections.collector.

Every series has a ``projection`` and a ``partition`` label: a whole
projection is ``partition="0"``; a partition of a partitioned one (its
checkpoint ``order_list.2of4``) is ``projection="order_list",
partition="2of4"``, so ``sum by (projection)`` adds its partitions up.
"""

import re
import time
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps

from prometheus_client import Counter, Histogram

from config.metrics import after_commit, labelled

DEFAULT_PARTITION = "0"
LABELS = ["projection", "partition"]
# A partition's checkpoint name (projections.base.partition_name).
_PARTITION = re.compile(r"^(?P<projection>.+)\.(?P<partition>[0-9]+of[0-9]+)$")


@lru_cache(maxsize=1024)
def labels(name: str) -> tuple[str, str]:
    """The (projection, partition) labels of a checkpoint's name."""
    match = _PARTITION.match(name)
    return (match["projection"], match["partition"]) if match else (name, DEFAULT_PARTITION)


EVENTS_PROCESSED = Counter(
    "projection_events_processed", "Events a projection has passed (read and checkpointed)", LABELS
)
EVENTS_APPLIED = Counter(
    "projection_events_applied",
    "Events that changed a projection's read model (or made a process act)",
    LABELS,
)
BATCH_DURATION = Histogram(
    "projection_batch_duration_seconds",
    "Time to read, apply and checkpoint one batch (a process manager: one run over a batch of events)",
    LABELS,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FAILURES = Counter(
    "projection_failures",
    "Failed attempts to apply an event (each retry counts; see projection_held)",
    LABELS,
)
RETRIES = Counter(
    "projection_event_retries",
    "Events a process manager handled again after losing an optimistic-concurrency race",
    LABELS,
)


_events_processed, _events_applied = labelled(EVENTS_PROCESSED), labelled(EVENTS_APPLIED)
_batch_duration, _failures, _retries = labelled(BATCH_DURATION), labelled(FAILURES), labelled(RETRIES)


def moved(name: str, seen: int, applied: int, using: str) -> None:
    """A checkpoint moved past ``seen`` events, ``applied`` of which changed
    something; counted when its transaction commits."""

    def count() -> None:
        _events_processed(*labels(name)).inc(seen)
        _events_applied(*labels(name)).inc(applied)

    after_commit(count, using)


def batch_done(names: Iterable[str], started: float, using: str = "default") -> None:
    """A batch that advanced ``names`` (read together) began at ``started``;
    it is done when its transaction commits."""
    names = list(names)

    def observe() -> None:
        seconds = time.perf_counter() - started
        for name in names:
            _batch_duration(*labels(name)).observe(seconds)

    after_commit(observe, using)


def timed_run(run: Callable) -> Callable:
    """Time a process manager's run over one batch (when it read anything)."""

    @wraps(run)
    def timed(manager, *args, **kwargs):
        started = time.perf_counter()
        result = run(manager, *args, **kwargs)
        if result.read:
            batch_done([manager.name], started, kwargs.get("using", "default"))
        return result

    return timed


def failed(name: str) -> None:
    _failures(*labels(name)).inc()


def retried(name: str) -> None:
    _retries(*labels(name)).inc()


# -- rebuild progress: shared through the cache, since a rebuild runs in a
# process of its own (manage.py projections rebuild) that nothing scrapes ------

REBUILD_KEY = "projections:rebuild:{}"
REBUILD_TTL = 60  # seconds: a rebuild that died stops showing soon after


class RebuildProgress:
    """A rebuild's progress callback that also publishes the progress for
    projections.collector (at most once a second), then clears it."""

    def __init__(self, names: list[str], inner: Callable[[int, int], None] | None):
        self.names, self.inner = names, inner
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0 or done >= total:
            self.last = now
            self._publish({"done": done, "total": total})
        if self.inner is not None:
            self.inner(done, total)

    def _publish(self, value: dict | None) -> None:
        from django.core.cache import cache

        try:
            if value is None:
                cache.delete_many([REBUILD_KEY.format(name) for name in self.names])
            else:
                cache.set_many({REBUILD_KEY.format(name): value for name in self.names}, REBUILD_TTL)
        except Exception:  # progress is a nicety; the rebuild goes on without it
            pass

    def __enter__(self) -> "RebuildProgress":
        self._publish({"done": 0, "total": 0})
        return self

    def __exit__(self, *exc) -> None:
        self._publish(None)


def rebuilds_running(names: list[str]) -> dict[str, dict]:
    """The published progress of rebuilds running now, by projection."""
    from django.core.cache import cache

    found = cache.get_many([REBUILD_KEY.format(name) for name in names])
    return {key.split(":", 2)[2]: value for key, value in found.items()}

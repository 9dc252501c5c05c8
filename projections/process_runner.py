"""Advancing a process manager: the events it handles, with its checkpoint.

Events are handled a run at a time, in one transaction with the checkpoint's
move (up to ``GROUP_EVENTS`` events or ``GROUP_SECONDS``): a crash anywhere
rolls the run back, and handling is idempotent, so the next attempt redoes
it. If any event of a run raises, the run is rolled back and its events are
handled again one per transaction: each retried in a fresh transaction when
it loses a race (the manager's ``retry_on``), and recorded as a failure if
it keeps failing (the manager is then held at it, like a projection).
"""

import bisect
import logging
import time

from django.db import transaction

from config.logs import bound, event_fields
from eventstore import EventStore, GlobalPosition, RecordedEvent
from projections import checkpoints, failures, locks, metrics
from projections.base import ProcessManager
from projections.batches import BatchResult, batch_size

EVENT_ATTEMPTS = 8
# Events a slice with a time budget reads, and events whose metadata one query fetches.
SLICE_BATCH = 200
METADATA_CHUNK = 20
# A run of events handled in one transaction: the bookkeeping (lock,
# checkpoint, commit) is paid once for all of them. A transaction that
# appends holds back every reader of the log until it commits (the
# gap-safe bound), so a run ends with the event that takes it past
# GROUP_SECONDS.
GROUP_EVENTS = METADATA_CHUNK
GROUP_SECONDS = 0.01

log = logging.getLogger(__name__)


@metrics.timed_run
def run_events(
    manager: ProcessManager,
    *,
    using: str = "default",
    limit: int | None = None,
    time_budget: float | None = None,
) -> BatchResult:
    """Handle the next batch of events for ``manager``; with ``time_budget``
    (seconds) stop after the event that ran past it (``more`` is then set),
    so the read models get their turn between slices of a long batch."""
    deadline = time.monotonic() + time_budget if time_budget else None
    store = EventStore(using=using)
    result = BatchResult()
    checkpoint = checkpoints.read([manager.name], using).get(manager.name)
    if checkpoint is None:
        return result
    failure = failures.open_failure(manager.name, using)
    if failures.is_waiting(failure):
        result.held = True
        return result
    if not transaction.get_connection(using).in_atomic_block and not locks.try_lock(manager.name, using):
        # Another runner is at it (the probe's lock ends with its statement):
        # no use reading the log only to find that out at the first event.
        result.busy.add(manager.name)
        return result
    # Read light; fetch metadata only for the events it gets to handle. A
    # slice of a time budget reads a short batch: what it does not get to
    # would only be read again by the next slice.
    limit = limit or (min(batch_size(), SLICE_BATCH) if deadline else batch_size())
    events = store.read_all(checkpoint.global_position, limit, metadata=False)
    result.more = len(events) == limit
    selected = manager.select(events)
    wanted = {e.position: e for e in selected}
    with_metadata = 0 if manager.needs_metadata else len(selected)  # selected[:n] have theirs
    passed = _Counter(manager.name, events, using)
    skipped = done = solo_until = 0
    index = 0
    while index < len(events):
        event = events[index]
        if done and deadline is not None and time.monotonic() > deadline:
            events = events[:index]  # the rest waits for the next slice
            result.more = True
            break
        if event.position not in wanted:
            skipped += 1
            index += 1
            continue
        in_runs = failure is None and done >= solo_until
        upto = min(done + (GROUP_EVENTS if in_runs else 1), len(selected))
        if upto > with_metadata:  # the next selected events' metadata, in one query
            end = max(upto, with_metadata + METADATA_CHUNK)
            for e in store.with_metadata(selected[with_metadata:end]):
                wanted[e.position] = e
            with_metadata = end
        group = [wanted[e.position] for e in selected[done:upto]]  # with their metadata
        if len(group) > 1:
            outcome = _handle_group(manager, group, passed, using, deadline)
            if outcome is None:  # another runner has it now
                result.busy.add(manager.name)
                result.more = False
                return result
            count, applied = outcome
            if count > 0:
                last = index
                while events[last].position != group[count - 1].position:
                    last += 1
                result.read += skipped + last + 1 - index
                result.applied += applied
                skipped, done, index = 0, done + count, last + 1
                continue
            if count < 0:  # one of them raised: these one at a time
                solo_until = done + len(group)
        handled = group[0]
        with _logged_as(manager, handled):
            outcome = _handle(manager, handled, passed, failure, using)
        if outcome is None:  # another runner has it now
            result.busy.add(manager.name)
            result.more = False  # the other runner goes on with it
            return result
        if isinstance(outcome, Exception):
            result.held = True
            result.stopped.add(manager.name)
            return result
        if failure is not None:
            failures.resolve(failure, "retried", "runner")
            failure = None
        result.read += skipped + 1
        result.applied += outcome
        skipped = 0
        done += 1
        index += 1
    if skipped:
        with transaction.atomic(using=using):
            if not locks.try_lock(manager.name, using):
                result.busy.add(manager.name)
                result.more = False
            elif (seen := passed.upto(events[-1].global_position)) > 0:
                checkpoints.move(manager.name, events[-1], seen, 0, using)
        result.read += skipped
    return result


def _handle(manager: ProcessManager, event: RecordedEvent, passed: "_Counter", failure, using: str):
    """Handle one event in its own transaction with its checkpoint: the
    number applied (0 or 1), None if another runner holds the manager, or
    the exception it kept failing with (recorded)."""
    for attempt in range(1, EVENT_ATTEMPTS + 1):
        try:
            with transaction.atomic(using=using):
                # One runner at a time, held per event transaction (so it works
                # through PgBouncer's transaction pooling too); another runner
                # may have done this event meanwhile: then skip it.
                if not locks.try_lock(manager.name, using):
                    return None
                seen = passed.upto(event.global_position)
                if seen <= 0:
                    return 0
                applied = int(manager.handle(event))
                checkpoints.move(manager.name, event, seen, applied, using)
            log.log(
                logging.INFO if applied else logging.DEBUG, "%s handled %s", manager.name, event.event_type
            )
            return applied
        except manager.retry_on as exc:
            if attempt == EVENT_ATTEMPTS:
                return _failed(manager, event, exc, failure, using)
            metrics.retried(manager.name)
            log.debug("%s lost a race (%s); trying the event again", manager.name, exc)
            time.sleep(0.002 * attempt)
        except Exception as exc:
            return _failed(manager, event, exc, failure, using)
    raise AssertionError("unreachable")  # pragma: no cover


def _handle_group(
    manager: ProcessManager, group: list[RecordedEvent], passed: "_Counter", using: str, deadline
):
    """Handle a run of ``group``'s first events in one transaction, with one
    move of the checkpoint, until ``GROUP_SECONDS`` (or the slice's
    ``deadline``) has passed: (events handled, events applied); None if
    another runner holds the manager. Nothing is kept when another runner
    has moved past the first of them (0 handled: the caller takes that one
    alone, which skips it) or when one of them raised (-1: the caller takes
    them one at a time, the way that retries and records failures)."""
    done: list[tuple[RecordedEvent, int]] = []
    try:
        with transaction.atomic(using=using):
            if not locks.try_lock(manager.name, using):
                return None
            now = checkpoints.position_of(manager.name, using)
            if now >= group[0].global_position:
                return 0, 0
            started = time.monotonic()
            for event in group:
                with _logged_as(manager, event):
                    done.append((event, int(manager.handle(event))))
                clock = time.monotonic()
                if clock - started > GROUP_SECONDS or (deadline is not None and clock > deadline):
                    break
            last = done[-1][0]
            applied = sum(n for _, n in done)
            checkpoints.move(manager.name, last, passed.between(now, last.global_position), applied, using)
    except Exception as exc:
        log.debug("%s: a run of %d events failed (%s); one at a time", manager.name, len(group), exc)
        return -1, 0
    for event, n in done:
        with _logged_as(manager, event):
            log.log(logging.INFO if n else logging.DEBUG, "%s handled %s", manager.name, event.event_type)
    return len(done), applied


def _logged_as(manager: ProcessManager, event: RecordedEvent):
    """Lines logged inside name the event, and the manager handling it."""
    return bound(**event_fields(event, projection=manager.name, causation_id=str(event.event_id)))


def _failed(manager: ProcessManager, event: RecordedEvent, exc: Exception, failure, using: str) -> Exception:
    with transaction.atomic(using=using):
        failures.record(manager.name, event, exc, failure, using)
    return exc


class _Counter:
    """How many events of this batch a step passes, counted from where the
    checkpoint really is: another runner may have moved it meanwhile (its
    batch can end anywhere in this one), and events_seen must stay exact."""

    def __init__(self, name: str, events: list[RecordedEvent], using: str):
        self.name, self.using = name, using
        self.positions = [e.global_position for e in events]

    def upto(self, position: GlobalPosition) -> int:
        return self.between(checkpoints.position_of(self.name, self.using), position)

    def between(self, checkpoint: GlobalPosition, position: GlobalPosition) -> int:
        """The events of this batch after ``checkpoint``, up to ``position``."""
        return bisect.bisect_right(self.positions, position) - bisect.bisect_right(self.positions, checkpoint)

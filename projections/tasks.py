"""Celery tasks. They carry no event data; each run reads from checkpoints.

A nudged run follows the log while commands keep coming: it polls for new
events every ``PROJECTION_POLL_INTERVAL`` seconds and applies them in
batches, and hands back after ``PROJECTION_FOLLOW_IDLE`` seconds without
any. Meanwhile it keeps the nudge flag set, so web processes queue no
tasks (one Redis check per command instead of a task per few commands),
and runs that arrive meanwhile leave the log to it. A follower that dies
lets go of both flags within ``FLAG_SECONDS``; beat runs everything anyway.
"""

import logging
import time

from celery import shared_task
from django.conf import settings

from projections import nudge
from projections.locks import wait_for_runners
from projections.runner import has_new_events, run_all

log = logging.getLogger(__name__)

FLAG_SECONDS = 5
FOLLOW_MAX_SECONDS = 60.0


@shared_task(name=nudge.RUN_TASK, ignore_result=True)
def run_projections() -> dict[str, int]:
    """Catch every projection up (beat runs this every few seconds; commits
    nudge it). Running it twice at once is safe: each projection has a lock."""
    counts: dict[str, int] = {}
    slot = None
    if getattr(settings, "PROJECTION_FOLLOW_IDLE", 0) > 0:
        try:
            slot = _take_slot()
        except Exception as exc:
            log.warning("could not take a follow flag (%s); running once", exc)
        else:
            if slot is None:
                # Followers are at it; they see every event committed before
                # they let go of the nudge flag, so before this nudge's commit.
                return counts
            if slot + 1 < settings.PROJECTION_FOLLOWERS:
                nudge.recruit()  # another worker follows too (partitions spread over them)
            _follow(counts, slot)
    try:
        # A commit from now on queues another run; the follow flag goes
        # second, so a run nudged in between finds it and leaves it to the
        # pass below, which starts after that commit.
        keys = [nudge.NUDGE_KEY] + ([_slot_key(slot)] if slot is not None else [])
        nudge.redis_client().delete(*keys)
    except Exception as exc:
        log.warning("could not clear the nudge flag: %s", exc)
    # Another runner may hold some of them, and may have read the log before
    # the commit that sent this nudge: wait for it to let go (a run is short)
    # and run again; if it keeps them, queue one look for later.
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        busy: set[str] = set()
        _add(counts, run_all(time_budget=20.0, busy=busy))
        if not busy:
            return counts
        left = deadline - time.monotonic()
        if left <= 0 or not wait_for_runners(busy, left):
            nudge.nudge_later(RECHECK_SECONDS)
            return counts


def _slot_key(slot: int) -> str:
    return nudge.FOLLOW_KEY if slot == 0 else f"{nudge.FOLLOW_KEY}:{slot}"


def _take_slot() -> int | None:
    """One of the PROJECTION_FOLLOWERS follow flags, if one is free."""
    redis = nudge.redis_client()
    for slot in range(max(1, settings.PROJECTION_FOLLOWERS)):
        if redis.set(_slot_key(slot), 1, nx=True, ex=FLAG_SECONDS):
            return slot
    return None


def _follow(counts: dict[str, int], slot: int) -> None:
    """Apply new events as they come until none came for a while."""
    idle = settings.PROJECTION_FOLLOW_IDLE
    interval = getattr(settings, "PROJECTION_POLL_INTERVAL", 0.02)
    started = last_seen = flagged = time.monotonic()
    redis = nudge.redis_client()
    while True:
        now = time.monotonic()
        if now - flagged > 1.0:
            try:
                pipe = redis.pipeline(transaction=False)
                pipe.set(nudge.NUDGE_KEY, 1, ex=FLAG_SECONDS)
                pipe.expire(_slot_key(slot), FLAG_SECONDS)
                pipe.execute()
            except Exception as exc:  # web processes will queue tasks again: harmless
                log.warning("could not refresh the follow flags: %s", exc)
            flagged = now
        try:
            pending = has_new_events()
        except Exception:
            log.exception("projections could not look for new events")
            return
        read = max(_add(counts, run_all(time_budget=2.0)).values(), default=0) if pending else 0
        if read:
            last_seen = time.monotonic()
        now = time.monotonic()
        if now - last_seen > idle or now - started > FOLLOW_MAX_SECONDS:
            return
        time.sleep(poll_pause(read, interval))


def poll_pause(read: int, interval: float) -> float:
    """How long a following run waits after a pass that read ``read``
    events: on a busy log (many events a pass) longer, for fewer and bigger
    batches (a batch has a fixed cost of some twenty statements); on a
    quiet one ``interval``, so a read model shows a command soon after it."""
    return interval * BUSY_FACTOR if read >= BUSY_EVENTS else interval


def _add(counts: dict[str, int], ran: dict[str, int]) -> dict[str, int]:
    for name, count in ran.items():
        counts[name] = counts.get(name, 0) + count
    return ran


BUSY_WAIT_SECONDS = 1.0
# A run that read this many events means a busy log: poll BUSY_FACTOR times less often.
BUSY_EVENTS = 8
BUSY_FACTOR = 2.5
RECHECK_SECONDS = 0.5

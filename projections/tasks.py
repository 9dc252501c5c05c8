"""Celery tasks. They carry no event data; each run reads from checkpoints."""

import logging
import time

from celery import shared_task

from projections import nudge
from projections.locks import wait_for_runners
from projections.runner import run_all

log = logging.getLogger(__name__)


@shared_task(name=nudge.RUN_TASK, ignore_result=True)
def run_projections() -> dict[str, int]:
    """Catch every projection up (beat runs this every few seconds; commits
    nudge it). Running it twice at once is safe: each projection has a lock."""
    try:
        nudge.redis_client().delete(nudge.NUDGE_KEY)  # a commit from now on queues another run
    except Exception as exc:
        log.warning("could not clear the nudge flag: %s", exc)
    # Another runner may hold some of them, and may have read the log before
    # the commit that sent this nudge: wait for it to let go (a run is short)
    # and run again; if it keeps them, queue one look for later.
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    counts: dict[str, int] = {}
    while True:
        busy: set[str] = set()
        for name, count in run_all(time_budget=20.0, busy=busy).items():
            counts[name] = counts.get(name, 0) + count
        if not busy:
            return counts
        left = deadline - time.monotonic()
        if left <= 0 or not wait_for_runners(busy, left):
            nudge.nudge_later(RECHECK_SECONDS)
            return counts


BUSY_WAIT_SECONDS = 1.0
RECHECK_SECONDS = 0.5

"""Celery tasks. They carry no event data; each run reads from checkpoints."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="projections.tasks.run_projections", ignore_result=True)
def run_projections() -> dict[str, int]:
    """Catch every projection up (beat runs this every few seconds; commits
    nudge it). Running it twice at once is safe: each projection has a lock."""
    from projections.nudge import NUDGE_KEY, redis_client
    from projections.runner import run_all

    try:
        redis_client().delete(NUDGE_KEY)  # a commit from now on queues another run
    except Exception as exc:
        log.warning("could not clear the nudge flag: %s", exc)
    busy: set[str] = set()
    counts = run_all(time_budget=20.0, busy=busy)
    if busy:
        # Another runner had some of them and may have read the log before the
        # commit that sent this nudge: look again shortly (one pending at most).
        from projections.nudge import nudge_later

        nudge_later(RECHECK_SECONDS)
    return counts


RECHECK_SECONDS = 0.1

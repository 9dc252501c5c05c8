"""The Celery app. Workers run projections (queue "projections"); beat runs
every projection every few seconds, so a lost nudge only delays.

Workers and beat log through config.logs like the web (Celery leaves the
logging setup to us) and count their tasks in config.metrics."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _setup_logging(**kwargs) -> None:
    from django.conf import settings

    from config.logs import configure

    configure(settings.LOGGING)


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs) -> None:
    from config import metrics

    metrics.task_started(task_id, task)


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    from config import metrics

    metrics.task_finished(task_id, task, state)


@signals.worker_process_init.connect
def _leave_the_workers_process_group(**kwargs) -> None:
    """A pool process leaves its worker's process group. honcho (``make run``
    on Ctrl-C) and other supervisors stop a worker with a SIGTERM to its
    whole group: a pool process killed by it cuts its task short
    (WorkerLostError and a traceback; the task is requeued), where the
    worker alone finishes its tasks first (warm shutdown), then stops its
    pool. The worker still signals its pool processes one by one (time
    limits, revoke, cold shutdown), and they die with it (Celery sets
    PR_SET_PDEATHSIG). SIGINT (Ctrl-C in a terminal) they ignore anyway.
    The solo pool sends this signal in the worker itself, which stays put."""
    from billiard.process import current_process

    if current_process().name != "MainProcess":
        os.setpgrp()


@signals.worker_process_shutdown.connect
def _pool_process_exited(pid=None, **kwargs) -> None:
    from config import metrics

    metrics.process_exited(pid)


@signals.worker_init.connect
@signals.beat_init.connect
def _check_master_key(**kwargs) -> None:
    """A worker or beat with a wrong or missing master key of personal data
    does not start (see eventstore.personal). Celery logs an exception from
    a signal handler and starts all the same: SystemExit is not one."""
    from eventstore.master_key import check_at_start_up

    try:
        check_at_start_up()
    except Exception as exc:
        raise SystemExit(f"not starting: {exc}") from exc

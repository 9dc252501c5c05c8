"""The Celery app. Workers run projections (queue "projections"); beat runs
every projection every few seconds, so a lost nudge only delays."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _check_master_key(**kwargs) -> None:
    """A worker or beat with a wrong or missing master key of personal data
    does not start (see eventstore.personal)."""
    from eventstore.master_key import check_at_start_up

    check_at_start_up()

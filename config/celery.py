"""The Celery app. Workers run projections (queue "projections"); beat runs
every projection every few seconds, so a lost nudge only delays."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("orders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

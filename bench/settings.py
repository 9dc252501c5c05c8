"""Settings of ``python manage.py bench`` and of the server ``bench http``
starts: the app's own, plus this app and the plain CRUD baseline
(``bench.crud``) the event-sourced commands are compared with."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"

"""Settings of the server ``python manage.py bench http`` starts: the app's
own, plus the plain CRUD baseline it is compared with (orders.crud_baseline)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "orders.crud_baseline"

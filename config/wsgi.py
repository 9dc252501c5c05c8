import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# A wrong or missing master key of personal data stops the server here,
# before it serves a request (see eventstore.personal).
from eventstore.master_key import check_at_start_up  # noqa: E402

check_at_start_up()

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# A wrong or missing master key of personal data stops the server here,
# before it serves a request (see eventstore.personal).
from eventstore.master_key import check_at_start_up  # noqa: E402

check_at_start_up()

# The URLs and the views behind them, loaded now rather than by the first
# request, join what start-up keeps out of the garbage collector's way.
from django.urls import get_resolver  # noqa: E402

from config import heap  # noqa: E402

get_resolver().url_patterns  # noqa: B018 (imports the URLconf)
heap.freeze()

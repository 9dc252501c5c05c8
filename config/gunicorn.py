"""gunicorn's settings wherever the app is served (the Procfile, ``make
run``, the end-to-end tests): ``gunicorn -c config/gunicorn.py ...``.

Its own lines are logged like the app's (config.logs: LOG_FORMAT, LOG_LEVEL);
requests are logged once each, by the app, with their correlation id, so
gunicorn's access log stays off. In Prometheus multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) a worker that exits has its live gauges retired.
"""

import os
import sys
from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parent.parent
# Run as a file, not imported: make the project importable.
sys.path.insert(0, str(ROOT))
# LOG_FORMAT and LOG_LEVEL may come from .env, as for the app (the environment wins).
if (ROOT / ".env").exists():
    environ.Env.read_env(ROOT / ".env")

from config.logs import logging_config  # noqa: E402 (needs the path above)

logconfig_dict = logging_config()
# gunicorn >= 25 opens a control socket at one fixed path per user, shared by
# every gunicorn on the machine (several stacks, the tests); nothing here uses it.
control_socket_disable = True


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

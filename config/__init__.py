import os

# prometheus-client goes into multiprocess mode as soon as the variable is
# set, even to "", and then writes its files into the current directory.
# Set but empty means unset: cleared here, before anything imports it.
for _name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
    if _name in os.environ and not os.environ[_name].strip():
        del os.environ[_name]

from config.celery import app as celery_app  # noqa: E402 (after the environment is settled)

__all__ = ["celery_app"]

"""``python -m config.run_shape``: which shape ``make run`` starts, from the
same sources as the settings (the environment, then a ``.env`` file next to
manage.py): "services" (web, Celery worker and beat) when DATABASE_URL and
REDIS_URL are both set, else "single" (one gunicorn)."""

import os
from pathlib import Path

import environ

if __name__ == "__main__":
    env_file = Path(__file__).resolve().parent.parent / ".env"
    if env_file.exists():
        environ.Env.read_env(env_file)  # never overrides the environment
    print("services" if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL") else "single")

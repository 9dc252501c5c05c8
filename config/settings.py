"""Settings, read from the environment with safe local defaults.

With no configuration the app runs on an embedded SQLite file and runs
projections in-process; set ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` for
the production shape. No secrets live here: ``SECRET_KEY`` must come from the
environment unless ``DEBUG`` is on or the app runs locally (see below).
"""

import ipaddress
from pathlib import Path

import environ
from babel.numbers import list_currencies
from django.core.exceptions import ImproperlyConfigured

from config import openapi, partitions
from config.environment import Env
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()  # strict: a value its variable cannot mean stops the process (config.environment)
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# A random per-checkout key is generated into var/ for local runs, so nothing
# secret is committed and sessions survive restarts. Production sets SECRET_KEY.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _local_secret_key() -> str:
    import secrets

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()

# The master key (key-encryption key) of personal data: base64 of 32 bytes.
# Without PII_MASTER_KEY, var/pii_master_key (made by `manage.py
# init_pii_master_key`, which `make run` runs; and with DEBUG on, on first
# use). Never generated silently otherwise: servers refuse to start without
# it, and a new key could not read the data keys of an existing database.
PII_MASTER_KEY_FILE = VAR_DIR / "pii_master_key"


def _local_pii_master_key() -> str:
    if PII_MASTER_KEY_FILE.exists():
        return PII_MASTER_KEY_FILE.read_text().strip()
    if DEBUG:
        import base64
        import os

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        PII_MASTER_KEY_FILE.write_text(base64.b64encode(os.urandom(32)).decode())
        PII_MASTER_KEY_FILE.chmod(0o600)
        return PII_MASTER_KEY_FILE.read_text().strip()
    return ""


PII_MASTER_KEY = env.str("PII_MASTER_KEY", default="") or _local_pii_master_key()
# Master keys being rotated away from (comma-separated): data keys wrapped by
# one keep unwrapping until `rotate_pii_master_key` ends.
PII_MASTER_KEY_PREVIOUS = env.list("PII_MASTER_KEY_PREVIOUS", default=[])
# How long a process keeps a subject's data key to seal with (eventstore.sealing).
PII_KEY_CACHE_SECONDS = env.int("PII_KEY_CACHE_SECONDS", default=60)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "eventstore",
    "orders",
    "projections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.CorrelationIdMiddleware",
    "config.middleware.LengthRequiredMiddleware",  # before any view reads the body (CSRF)
    "config.money.MoneyLocaleMiddleware",
    "config.middleware.ReadReplicaMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.money.money_context",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

PREPARED_STATEMENTS = env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=env.bool("DB_PREPARED_STATEMENTS", default=True)
)

# Database: PostgreSQL when DATABASE_URL is set, else an embedded SQLite file.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db.setdefault("OPTIONS", {}).update(
        {
            # Writers queue instead of failing at once; IMMEDIATE avoids the
            # read-then-upgrade deadlock; WAL lets readers run beside a writer.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Enables psycopg's prepared statements, which the event store and the
    # projection runner use for their hot statements (Django's own queries use
    # client-side binding and are not affected). They are protocol-level named
    # statements: PgBouncer >= 1.21 in transaction mode keeps them right with
    # max_prepared_statements > 0; set DATABASE_PREPARED_STATEMENTS=false
    # behind an older one (DB_PREPARED_STATEMENTS is the former name).
    if PREPARED_STATEMENTS:
        _db.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    _db.setdefault("CONN_HEALTH_CHECKS", True)
    _db.setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="test_orders")
    # A transaction left open (a stuck request, a forgotten shell) holds back
    # every projection: the gap-safe read waits for it. The server ends such a
    # session after this many seconds idle inside a transaction (0: never).
    # Not set on "direct" below: a migration or a rebuild may compute for
    # minutes between two statements of its transaction, and someone is
    # watching it.
    _idle_timeout = env.int("DB_IDLE_IN_TRANSACTION_TIMEOUT", default=60)
    if _idle_timeout > 0:
        # libpq's "options": server settings sent when each connection starts.
        _options = _db.setdefault("OPTIONS", {})
        _libpq = [_options.get("options", ""), f"-c idle_in_transaction_session_timeout={_idle_timeout}s"]
        _options["options"] = " ".join(filter(None, _libpq))

# The role that owns the tables, on a direct (not pooled) connection: what
# `migrate` (and `db_roles`) use, so DATABASE_URL can name a role that may
# read and append events but never change them (see the README).
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
if DATABASE_DIRECT_URL:
    DATABASES["direct"] = env.db_url_config(DATABASE_DIRECT_URL)
    DATABASES["direct"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    # Tests run everything on the default test database, never a second one.
    DATABASES["direct"]["TEST"] = {"MIRROR": "default"}

# Streaming replicas the read side reads from (comma-separated URLs):
# aliases "replica", "replica2", ... (config.replicas, config.middleware).
REPLICA_URLS = [url.strip() for url in env.str("DATABASE_REPLICA_URL", default="").split(",") if url.strip()]
for _n, _url in enumerate(REPLICA_URLS, start=1):
    _replica = env.db_url_config(_url)
    _replica.setdefault("OPTIONS", {})
    if PREPARED_STATEMENTS:
        _replica["OPTIONS"].setdefault("prepare_threshold", 5)
    # A replica that is down must not hold a read up for long.
    _replica["OPTIONS"].setdefault("connect_timeout", env.int("REPLICA_CONNECT_TIMEOUT", default=2))
    _replica["CONN_MAX_AGE"] = _db.get("CONN_MAX_AGE", 0)
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica" if _n == 1 else f"replica{_n}"] = _replica
DATABASE_ROUTERS = ["config.replicas.ReplicaRouter"] if REPLICA_URLS else []
# Read-your-writes on a replica waits this long for the replica's read
# models to reach the position, then reads the primary instead.
REPLICA_WAIT_SECONDS = env.float("REPLICA_WAIT_SECONDS", default=0.5)
# A replica replaying further behind than this is skipped.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)
# How often each process looks at its replicas' health again.
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# One rule for times on every page: UTC, labelled as such (the dashboard's
# days are UTC days too, like the daily_sales read model), whatever the
# browser's or the server's zone.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
# Failed sign-ins allowed per window: per client and username, and per client
# across all usernames (password spraying).
LOGIN_FAILURES_ALLOWED = env.int("LOGIN_FAILURES_ALLOWED", default=10)
LOGIN_FAILURES_PER_CLIENT = env.int("LOGIN_FAILURES_PER_CLIENT", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=300)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes anonymous requests 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.rest.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.rest.ContentNegotiation",
    "EXCEPTION_HANDLER": "config.rest.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"auth": env.rate("AUTH_THROTTLE_RATE", default="30/min")},
    # Proxies in front of the app; with 0, clients are told apart by the socket
    # address, so a forged X-Forwarded-For cannot dodge the throttles.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0, minimum=0),
}
# Largest JSON body a command accepts (100 order lines fit in a few KiB).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024, minimum=1)
# How long an Idempotency-Key is remembered.
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)

SPECTACULAR_SETTINGS = openapi.SETTINGS  # drf-spectacular's: the schema's title, who may read it

EVENTSTORE_SNAPSHOT_EVERY = env.int(
    "EVENTSTORE_SNAPSHOT_EVERY", default=100, minimum=1
)  # events between snapshots

# Orders wait for their stock to be reserved (the fulfilment process) before
# they can ship. Off: orders ship without inventory, as before it existed.
INVENTORY_RESERVATION = env.bool("INVENTORY_RESERVATION", default=True)
# When stock for a line cannot be reserved: "reject_line" takes those units
# off the order and confirms the rest (the order is cancelled only when no
# line got stock); "cancel_order" cancels the whole order.
OUT_OF_STOCK_POLICY = env.str("OUT_OF_STOCK_POLICY", default="reject_line")
if OUT_OF_STOCK_POLICY not in ("reject_line", "cancel_order"):
    raise ImproperlyConfigured("OUT_OF_STOCK_POLICY must be reject_line or cancel_order")

# The shop's one currency (ISO 4217): prices are integer minor units of it,
# shown in each user's locale (Accept-Language, else LANGUAGE_CODE).
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="EUR").upper()
if SHOP_CURRENCY not in list_currencies():
    raise ImproperlyConfigured(
        f"SHOP_CURRENCY must be an ISO 4217 code (EUR, GBP ...), not {SHOP_CURRENCY!r}"
    )

# Projections. "celery": a worker runs them, nudged after each commit and by
# beat; "inprocess": run right after each commit in the web process (the
# default without Redis); "off": only `manage.py projections run`.
REDIS_URL = env.str("REDIS_URL", default="")

# The cache holds the sign-in and token throttles' counters, so it must be
# shared by every process: Redis when there is one, else files under var/
# (the processes of one machine).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "orders",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
PROJECTIONS_MODE = env.choice(
    "PROJECTIONS_MODE", ("celery", "inprocess", "off"), default="celery" if REDIS_URL else "inprocess"
)
PROJECTION_BATCH_SIZE = env.int("PROJECTION_BATCH_SIZE", default=2000, minimum=1)
# A nudged worker run follows the log while commands keep coming: it looks
# for new events every PROJECTION_POLL_INTERVAL seconds and hands back after
# PROJECTION_FOLLOW_IDLE seconds without any (0: one pass per nudge).
PROJECTION_FOLLOW_IDLE = env.float("PROJECTION_FOLLOW_IDLE", default=1.0)
PROJECTION_POLL_INTERVAL = env.float("PROJECTION_POLL_INTERVAL", default=0.02)
# Projections split into partitions by a hash of the stream id, each with its
# own checkpoint and lock, so several workers advance one read model at once,
# e.g. PROJECTION_PARTITIONS=order_list=4. Only read models whose rows each
# belong to one stream may be split: order_list and products. Not with
# PROJECTIONS_MODE=inprocess, nor for an inline projection (checked at start).
PROJECTION_PARTITIONS = partitions.parse(env.str("PROJECTION_PARTITIONS", default=""))
# Worker runs that may follow the log at once (one per partition is the most
# that helps).
PROJECTION_FOLLOWERS = env.int("PROJECTION_FOLLOWERS", default=1, minimum=1)
# Processes a rebuild replays the log with (0: one per core). Each reads the
# whole log, so more than one pays off only on cores that are otherwise idle.
PROJECTION_REBUILD_JOBS = env.int("PROJECTION_REBUILD_JOBS", default=1, minimum=0)
# Projections applied inside the command's transaction instead of by a worker,
# e.g. PROJECTION_CONSISTENCY=order_list=inline
PROJECTION_CONSISTENCY = env.dict("PROJECTION_CONSISTENCY", default={})
# How long a read with X-Min-Position waits for the projections (seconds).
READ_YOUR_WRITES_TIMEOUT = env.float("READ_YOUR_WRITES_TIMEOUT", default=2.0)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task is acked after it ran, so a killed worker's task is redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "projections"
CELERY_TASK_ROUTES = {"projections.*": {"queue": "projections"}, "orders.*": {"queue": "projections"}}
# Redis redelivers an unacked task after the visibility timeout; a projection
# run takes seconds, so 5 minutes never re-runs a live task and still
# recovers a lost one soon (beat re-runs every projection anyway).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 300,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "run-projections": {
        "task": "projections.tasks.run_projections",
        "schedule": env.float("PROJECTION_BEAT_SECONDS", default=2.0),
    },
    "purge-idempotency-keys": {"task": "orders.tasks.purge_idempotency_keys", "schedule": 3600.0},
}

# Logs: structured (config/logs.py), one line per record on stderr; JSON with
# LOG_FORMAT=json, else a console format for people.
LOGGING_CONFIG = "config.logs.configure"
LOGGING = logging_config(env.str("LOG_LEVEL", default="INFO"), env.str("LOG_FORMAT", default="console"))

# GET /metrics (Prometheus) answers a bearer token equal to METRICS_TOKEN,
# clients in METRICS_ALLOWED_NETWORKS (e.g. 10.0.0.0/8,127.0.0.1/32: the
# socket's address, so not behind a proxy on the same host) and staff.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
for _net in filter(None, map(str.strip, METRICS_ALLOWED_NETWORKS)):
    try:
        ipaddress.ip_network(_net, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_net!r} is not an IP address or network"
            " (a comma-separated list, e.g. 10.0.0.0/8,127.0.0.1)"
        ) from None
# GET /readyz (and the projections page) says "not ready" when a projection
# has had events waiting longer than this (seconds), or is held by a failure.
PROJECTION_LAG_ALERT_SECONDS = env.float("PROJECTION_LAG_ALERT_SECONDS", default=30.0)
# Each process judges /readyz at most once per this many seconds (it is public).
READYZ_CACHE_SECONDS = env.float("READYZ_CACHE_SECONDS", default=1.0)

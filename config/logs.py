"""Structured logs for every process (web, worker, beat, management commands).

Code logs with the standard ``logging`` module (``extra={...}`` for fields);
structlog's ``ProcessorFormatter`` renders each record, adding:

- the message context of ``eventstore.metadata`` (the request's or the
  workflow's ``correlation_id``, ``causation_id``, ``user_id``, ``command``)
  wherever it is set, so a line written while serving a request or handling
  an event carries them without passing them around;
- fields bound with ``bound(...)`` (the projection and event being handled,
  the Celery task), structlog's context variables;
- level, logger name, UTC timestamp and the process's role (web, worker,
  beat or the management command).

No line carries a query string, a form's values or the row values of a
database error (``config.redact``): Django's ``request`` extra becomes
``METHOD /path``, and exceptions are written with ``redact.describe``.

``LOG_FORMAT=json`` writes one JSON object per line (for a log shipper);
the default, ``console``, is for people. This module imports no Django: the
gunicorn config uses it before any app is loaded.
"""

import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
import structlog
from structlog.contextvars import bound_contextvars

from config import redact
from eventstore.metadata import current_context

__all__ = [
    "ExpectedProbeAnswers",
    "bound",
    "claim_request_line",
    "configure",
    "event_fields",
    "logging_config",
    "outside_request",
    "quiet",
    "request_line",
]

CONTEXT_FIELDS = ("correlation_id", "causation_id", "user_id", "command")
# Requests that would drown the log at INFO (probes every few seconds).
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Answers a probe or a scraper gets as a matter of course (not ready; no
# credentials): Django's "django.request" logger would write a WARNING or
# an ERROR line for each, every few seconds. Other statuses of these paths
# (a 500) and every other path keep their level.
EXPECTED_PROBE_ANSWERS = {"/readyz": frozenset({503}), "/metrics": frozenset({401, 403})}


def bound(**fields: Any):
    """Fields added to every line logged inside the block (this thread or
    task only): ``with bound(projection="order_list"): ...``."""
    return bound_contextvars(**{k: v for k, v in fields.items() if v is not None})


# The fields of the line the request being served will be logged with
# (config.middleware), for code serving it to add to.
_request_line: ContextVar[dict[str, Any] | None] = ContextVar("request_line", default=None)


@contextmanager
def request_line() -> Iterator[dict[str, Any]]:
    """Inside the block, ``claim_request_line`` hands out the dict it yields:
    the request's one line carries what was done while serving it."""
    fields: dict[str, Any] = {}
    token = _request_line.set(fields)
    try:
        yield fields
    finally:
        _request_line.reset(token)


@contextmanager
def outside_request() -> Iterator[None]:
    """Work done in a request's thread that is not the request's own (the
    projections and process managers a request runs in-process): what it
    logs goes on lines of its own."""
    token = _request_line.set(None)
    try:
        yield
    finally:
        _request_line.reset(token)


_retrying: ContextVar[bool] = ContextVar("retrying", default=False)


@contextmanager
def retrying() -> Iterator[None]:
    """Inside, the request runs its command again (see claim_request_line)."""
    token = _retrying.set(True)
    try:
        yield
    finally:
        _retrying.reset(token)


def claim_request_line(command: str) -> dict[str, Any] | None:
    """The line of the request being served, for ``command`` to fill in once
    it is done (one line per request, not two); None outside a request, or
    when another command of the request has it: then log a line of your own.
    The same command run again by the request (a form retried on a newer
    version, inside ``retrying()``) takes the line over: it says how that
    went, and ``attempts``."""
    line = _request_line.get()
    if line is None:
        return None
    if "command" in line:
        if not _retrying.get() or line["command"] != command:
            return None
        line["attempts"] = line.get("attempts", 1) + 1
        for stale in ("reason", "aggregate_id", "version", "position"):
            line.pop(stale, None)
    line["command"] = command
    return line


@contextmanager
def quiet(*names: str, level: int = logging.WARNING) -> Iterator[None]:
    """Only ``level`` and above from the loggers ``names`` (and theirs) inside
    the block: a bulk job's line per command would bury what it prints."""
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for logger, was in zip(loggers, before, strict=True):
            logger.setLevel(was)


class RefusalsWithoutTraceback(logging.Filter):
    """A refusal (a 4xx that Django logs: a 403 for a page the user may not
    see, django.security's 400 for a bad Host header) is logged without the
    traceback of the exception that answered it: its line says it all. On
    the handler, so every django.security.* logger is covered."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (getattr(record, "status_code", None) or 500) < 500:
            record.exc_info = record.exc_text = None
        return True


class ExpectedProbeAnswers(RefusalsWithoutTraceback):
    """On "django.request": an answer of EXPECTED_PROBE_ANSWERS is logged at
    DEBUG (so not at all unless that logger is at DEBUG); a refusal without
    its traceback, whatever handler gets it."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        path = getattr(getattr(record, "request", None), "path", None)
        if getattr(record, "status_code", None) not in EXPECTED_PROBE_ANSWERS.get(path, ()):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def event_fields(event, **more: Any) -> dict[str, Any]:
    """The log fields naming a stored event being handled: its position and
    type, and the correlation id of the request or workflow that wrote it
    (when its metadata was read)."""
    fields = {"event_position": event.position, "event_type": event.event_type, **more}
    correlation = (event.metadata or {}).get("correlation_id")
    if correlation:
        fields["correlation_id"] = correlation
    return fields


def _role() -> str:
    """web, worker, beat, or the name of the program (manage.py's command)."""
    argv = [os.path.basename(arg) for arg in sys.argv[:4]]
    if any("gunicorn" in arg for arg in argv):
        return "web"
    if any("celery" in arg for arg in argv):
        return "beat" if "beat" in sys.argv else "worker"
    if argv and argv[0] == "manage.py" and len(sys.argv) > 1:
        return sys.argv[1]
    return argv[0] if argv else "python"


def add_message_context(logger, method_name: str, event_dict: dict) -> dict:
    """The request's or workflow's metadata (eventstore.metadata); fields the
    line already has win."""
    context = current_context()
    for field in CONTEXT_FIELDS:
        value = getattr(context, field)
        if value is not None:
            event_dict.setdefault(field, value)
    return event_dict


class _AddRole:
    def __init__(self) -> None:
        self.role = _role()

    def __call__(self, logger, method_name: str, event_dict: dict) -> dict:
        event_dict.setdefault("process", self.role)
        return event_dict


def redact_request(logger, method_name: str, event_dict: dict) -> dict:
    """Django's ``request`` extra (django.request, django.security) as
    ``METHOD /path``: its repr has the query string, which may hold an email.
    The development server's line (django.server) loses its query string."""
    request = event_dict.get("request")
    if request is not None and not isinstance(request, str):
        if hasattr(request, "path"):
            event_dict["request"] = redact.request_line(request)
        else:  # django.server passes its socket
            del event_dict["request"]
    record = event_dict.get("_record")
    if record is not None and record.name == "django.server" and isinstance(event_dict.get("event"), str):
        event_dict["event"] = redact.without_query(event_dict["event"])
    return event_dict


def _exception_text(exc_info: Any) -> str | None:
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else exc_info[1] if exc_info else None
    return redact.format_exception(exc) if exc is not None else None


def format_exc_info(logger, method_name: str, event_dict: dict) -> dict:
    """``exc_info`` as an ``exception`` traceback, written by ``redact``."""
    text = _exception_text(event_dict.pop("exc_info", None))
    if text is not None:
        event_dict["exception"] = text
    return event_dict


def _console_exception(sio, exc_info) -> None:
    sio.write("\n" + (_exception_text(exc_info) or ""))


def _json(obj: Any, **kwargs: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _pre_chain() -> list:
    """What every record goes through, from structlog or plain logging."""
    return [
        structlog.stdlib.ExtraAdder(),
        redact_request,
        structlog.contextvars.merge_contextvars,
        add_message_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _AddRole(),
    ]


def formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter for ``fmt`` ("json" or "console")."""
    if fmt == "json":
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(serializer=_json),
        ]
    else:
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), sort_keys=False, exception_formatter=_console_exception
            ),
        ]
    return structlog.stdlib.ProcessorFormatter(processors=processors, foreign_pre_chain=_pre_chain())


def logging_config(level: str | None = None, fmt: str | None = None) -> dict:
    """A ``logging.config.dictConfig`` configuration: every record through
    one handler on stderr, formatted as ``fmt`` (default: LOG_FORMAT, else
    console) at ``level`` (default: LOG_LEVEL, else INFO)."""
    level = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "console").lower()
    if fmt not in ("json", "console"):
        raise ValueError(f"LOG_FORMAT must be json or console, not {fmt!r}")
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": formatter, "fmt": fmt}},
        "filters": {
            "expected_probe_answers": {"()": ExpectedProbeAnswers},
            "refusals_without_traceback": {"()": RefusalsWithoutTraceback},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "filters": ["refusals_without_traceback"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "django.request": {"filters": ["expected_probe_answers"]},
            # Each request is logged once, by config.middleware, with its
            # correlation id; gunicorn's own access line would say less.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }


def configure(config: dict) -> None:
    """Apply ``config`` (Django's LOGGING_CONFIG hook, Celery's setup_logging
    signal), and route structlog's own loggers through it too."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)  # Python's warnings become log lines like the rest
    structlog.configure(
        processors=[*_pre_chain()[1:], structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

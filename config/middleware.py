"""Request-wide middleware."""

import logging
import re
import time

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

from config import logs, replicas
from config.logs import QUIET_PATHS
from config.rest import json_problem
from eventstore.metadata import message_context, new_correlation_id

log = logging.getLogger("config.requests")

# The form of a client's X-Correlation-ID (also in the OpenAPI schema).
CORRELATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$"
_CORRELATION_ID = re.compile(CORRELATION_ID_PATTERN)


class LengthRequiredMiddleware:
    """A command's body (POST, PUT, PATCH) sent without a ``Content-Length``
    (``Transfer-Encoding: chunked``) is refused with 411 Length Required.
    Django reads a body only as far as the length it is told, so a view
    would see an empty body and act on it: a command would run without the
    fields the client sent. After CorrelationIdMiddleware: the answer is
    logged and carries its correlation id."""

    DETAIL = "Send the request body with a Content-Length header: chunked transfer encoding is not supported."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if (
            request.method in ("POST", "PUT", "PATCH")
            and "HTTP_TRANSFER_ENCODING" in meta
            and not meta.get("CONTENT_LENGTH")
        ):
            if request.path.startswith("/api/"):
                return json_problem(request, 411, self.DETAIL)
            return HttpResponse(self.DETAIL, status=411, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class CorrelationIdMiddleware:
    """Every request has a correlation id: the client's ``X-Correlation-ID``
    (letters, digits and ``._:/+=-``, at most 128) or a new UUID. Events
    appended while serving it carry it, so do its log lines, and the
    response echoes it. Each request is logged once, when answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        given = request.headers.get("X-Correlation-ID")
        if given is not None and not _CORRELATION_ID.match(given):
            return json_problem(
                request, 400, "X-Correlation-ID must be 1-128 letters, digits or ._:/+=- characters."
            )
        correlation_id = given or new_correlation_id()
        request.correlation_id = correlation_id
        with message_context(correlation_id=correlation_id), logs.request_line() as line:
            response = self.get_response(request)
            _log_request(request, response, started, line)
        response["X-Correlation-ID"] = correlation_id
        return response


def _log_request(request, response, started: float, line: dict) -> None:
    # Probes and scrapes at DEBUG, whatever they answer (Django's own line
    # reports a 5xx); other server errors at WARNING.
    if request.path in QUIET_PATHS:
        level = logging.DEBUG
    else:
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
    if not log.isEnabledFor(level):
        return
    user = getattr(request, "user", None)  # a token's user too: DRF sets it on the request
    user_id = str(user.pk) if user is not None and user.is_authenticated else None
    log.log(
        level,
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            **({"user_id": user_id} if user_id else {}),
            **line,  # a command's outcome (orders.metrics)
        },
    )


class ReadReplicaMiddleware:
    """GET and HEAD requests read the read side from a healthy replica
    (``DATABASE_REPLICA_URL``), when there is one. A replica failing during
    the request is marked down and the view runs again on the primary
    (reads are safe to repeat)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("GET", "HEAD") or not replicas.aliases():
            return self.get_response(request)
        with replicas.reading(replicas.choose()):
            return self.get_response(request)

    def process_exception(self, request, exception):
        alias = replicas.current()
        if alias is None or not isinstance(exception, OperationalError | InterfaceError):
            return None
        replicas.mark_down(alias)
        replicas.use_primary()
        match = request.resolver_match
        return match.func(request, *match.args, **match.kwargs)

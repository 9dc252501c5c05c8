"""Request-wide middleware."""

import re

from django.db import InterfaceError, OperationalError

from config import replicas
from config.rest import json_problem
from eventstore.metadata import message_context, new_correlation_id

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$")


class CorrelationIdMiddleware:
    """Every request has a correlation id: the client's ``X-Correlation-ID``
    (letters, digits and ``._:/+=-``, at most 128) or a new UUID. Events
    appended while serving it carry it, and the response echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Correlation-ID")
        if given is not None and not _CORRELATION_ID.match(given):
            return json_problem(
                request, 400, "X-Correlation-ID must be 1-128 letters, digits or ._:/+=- characters."
            )
        correlation_id = given or new_correlation_id()
        request.correlation_id = correlation_id
        with message_context(correlation_id=correlation_id):
            response = self.get_response(request)
        response["X-Correlation-ID"] = correlation_id
        return response


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

"""REST plumbing shared by every API endpoint: the JSON parser with a size
limit, and errors as RFC 9457 problem details (application/problem+json)."""

import logging
import re
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.utils.mediatypes import _MediaType

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request-too-large"


class Problem(Exception):
    """An error with a problem type, raised by views for non-DRF failures."""

    def __init__(
        self, status_code: int, code: str, title: str, detail: str, headers: dict | None = None, **extra: Any
    ):
        self.status_code, self.code, self.title, self.detail = status_code, code, title, detail
        self.extra = extra
        self.headers = headers or {}
        super().__init__(detail)


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's, except that a media range with ``q=0`` is one the client does
    not accept (RFC 9110, 12.4.2), not a choice of last resort:
    ``Accept: application/json;q=0`` is a 406."""

    def get_accept_list(self, request):
        return [media for media in super().get_accept_list(request) if not _refused(media)]


def _refused(media: str) -> bool:
    quality = _MediaType(media).params.get("q", "1")
    try:
        return float(quality) == 0
    except ValueError:
        return False  # not a quality DRF would read either: left to it


class JSONParser(BaseParser):
    """Strict JSON bodies: UTF-8, at most ``API_MAX_BODY_BYTES``, parsed by
    orjson (which refuses invalid UTF-8, NaN, and nesting deeper than 1024
    levels instead of exhausting the stack)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and re.fullmatch(r"[0-9]{1,18}", declared) and int(declared) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit:,} bytes.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit:,} bytes.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None


def problem(status_code: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": f"/problems/{code}" if code else "about:blank",
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    body.update(extra)
    return body


def problem_response(status_code: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    return Response(
        problem(status_code, code, title, detail, **extra),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


_TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    411: "Length required",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
}


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail flattened to {"field.path": [messages]}."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                if isinstance(key, int):  # DRF reports list items by index
                    walk(f"{prefix}[{key}]", sub)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out.setdefault(prefix or "body", []).extend(str(v) for v in value)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                if sub:
                    walk(f"{prefix}[{index}]" if prefix else f"[{index}]", sub)
        else:
            out.setdefault(prefix or "body", []).append(str(value))

    walk("", detail)
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every failure as problem+json. Domain errors
    are translated by the mapping each app registers in ``ERROR_MAPPERS``."""
    for mapper in ERROR_MAPPERS:
        mapped = mapper(exc)
        if mapped is not None:
            exc = mapped
            break
    if isinstance(exc, Problem):
        response = problem_response(exc.status_code, exc.code, exc.title, exc.detail, **exc.extra)
        if "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers (and logs) it
    code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        response = problem_response(
            400,
            "validation-error",
            "Invalid request",
            "The request has invalid or missing fields.",
            errors=_field_errors(exc.detail),
        )
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response = problem_response(code, "", _TITLES.get(code, "Error"), str(detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Token realm="api"'
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response if _renders_json(context) else _as_json(response)


def _renders_json(context: dict[str, Any]) -> bool:
    """The view answers this request in JSON (the API's views always do; the
    schema's YAML and the docs' HTML views do not, and their renderer would
    write a problem in YAML or as plain text)."""
    request, view = context.get("request"), context.get("view")
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None and view is not None:  # not negotiated (a 406): DRF takes the first
        renderer = next(iter(view.get_renderers()), None)
    return renderer is None or renderer.media_type.endswith("json")


def _as_json(response: Response) -> JsonResponse:
    out = JsonResponse(response.data, status=response.status_code, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in response.items():
        if name.lower() != "content-type":
            out[name] = value
    return out


# Apps append callables exc -> Problem | None (see orders.problems).
ERROR_MAPPERS: list = []


def json_problem(request, status_code: int, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, "", _TITLES.get(status_code, "Server error"), detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )

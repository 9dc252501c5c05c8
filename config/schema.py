"""How the OpenAPI schema describes request bodies: as strictly as the API
reads them. drf-spectacular leaves out what a client needs to know to send
a body the API accepts: that it refuses fields it does not name
(``config.serializers.StrictSerializer``), and how many items a list takes.

It also declares the response headers ``config.rest.exception_handler``
adds to every answer of a status, whichever operation gives it, on each
operation that lists that status."""

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from config.serializers import StrictSerializer

WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    str,
    OpenApiParameter.HEADER,
    response=[401],
    required=True,
    description='The challenge, `Token realm="api"`: send `Authorization: Token <key>` '
    "(from POST /api/auth/token).",
)
THROTTLED_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before the throttle lets another attempt through (sent when known).",
)
CORRELATION_ID_ECHO = OpenApiParameter(
    "X-Correlation-ID",
    str,
    OpenApiParameter.HEADER,
    response=True,
    description="The request's correlation id: its X-Correlation-ID as sent, or the one made for it "
    "(absent only from the 400 that refuses a malformed one).",
)
# Declared only where an operation lists the status (drf-spectacular adds a
# response header to the responses its ``response`` codes name).
STATUS_HEADERS = [WWW_AUTHENTICATE, THROTTLED_RETRY_AFTER, CORRELATION_ID_ECHO]


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        # extend_schema(parameters=...) adds each operation's own to these.
        return [*super().get_override_parameters(), *STATUS_HEADERS]

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        serializer = force_instance(serializer)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        properties = schema.get("properties", {})
        for name, field in serializer.fields.items():
            prop = properties.get(name)
            if not isinstance(field, serializers.ListSerializer) or not isinstance(prop, dict):
                continue
            least = max(field.min_length or 0, 0 if field.allow_empty else 1)
            if least:
                prop["minItems"] = least
            if field.max_length is not None:
                prop["maxItems"] = field.max_length
        return schema

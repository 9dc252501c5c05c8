"""What the OpenAPI schema says once for the whole API (drf-spectacular's
DESCRIPTION, and its other settings): the answers every operation shares,
and those that belong to no operation, for which OpenAPI has no place.
Each operation lists its own statuses with
``config.serializers.problem_responses``."""

DESCRIPTION = """\
Event-sourced order management: commands append events, queries read projections.

Every error is `application/problem+json` (RFC 9457: `type`, `title`, `status`, `detail`, and \
per-field `errors`), and each operation lists the statuses it can answer. Any operation can answer \
400 for a malformed `X-Correlation-ID`, 401 when credentials are needed and missing, or sent and \
not valid, 406 when `Accept` names no JSON type, and 411 when a body comes without `Content-Length` \
(chunked). Request bodies take only the fields their schema names; codes (SKUs, customer ids) are \
taken as sent, not trimmed. Free text takes any script and emoji (with the invisible joiners, word \
breaks, variation selectors and bidi marks they need, where they do something) and refuses control \
characters, bidirectional overrides and invisible characters that make it look blank or like other \
text (those beside ASCII, soft hyphens, Hangul fillers); one-line text (names, addresses, reasons, \
carrier, tracking number) also refuses tabs and line breaks, which notes and descriptions may hold. \
Every success body is documented field by field; only an event's `data` and the event catalog's \
JSON Schemas are free-form.

Two answers belong to no operation below: a method that a path does not list answers 405 with an \
`Allow` header naming the methods it takes (401 first, without credentials; OPTIONS, which describes \
the endpoint, is not part of this contract), and a path that is not listed (an order id that is not \
a UUID, say) answers 404.
"""

# drf-spectacular's settings (config.settings.SPECTACULAR_SETTINGS).
SETTINGS = {
    "TITLE": "Orders API",
    "DESCRIPTION": DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The one PATCH (a line's quantity) takes the same body as its PUT, field
    # required: not drf-spectacular's "Patched" copy with every field optional.
    "COMPONENT_SPLIT_PATCH": False,
    # config.converters: an order id in a path, in either case.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "string", "format": "uuid"}},
    # The schema and its docs are public (credentials not even looked at); the operations are not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI's files come with the app (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Names of the value sets that several answers share (drf-spectacular would
    # otherwise name them after the field, and "status" means more than one).
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "projections.selectors.STATUSES",
        "LineStatusEnum": "orders.serializers.LINE_STATUSES",
        "OrderEventTypeEnum": "orders.domain.events.EVENT_TYPES",
        "ProjectionStateEnum": "projections.api.PROJECTION_STATES",
    },
}

"""What every order and inventory command endpoint shares: who may send
commands, the If-Match / Idempotency-Key / X-Correlation-ID headers, and
running a command for a request. Views parse and validate input, then call
``run_command``; no business rule lives here."""

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.middleware import CORRELATION_ID_PATTERN
from config.rest import Problem
from config.serializers import problem_responses
from eventstore.metadata import message_context
from orders import commands
from orders.domain import rules
from orders.idempotency import IdempotencyKey, invalid_key_reason

# Why the pages refuse a command to a signed-in user who is not an order manager.
MANAGERS_ONLY = (
    "Only order managers can place and change orders or record stock. "
    "Ask a staff user to add you to the Order managers group."
)


def can_manage(user) -> bool:
    """Staff, and users with the "order manager" permission, may send commands."""
    return bool(user and user.is_authenticated and (user.is_staff or user.has_perm("orders.manage_orders")))


class CanManageOrders(permissions.BasePermission):
    message = "Sending order commands needs the order manager permission."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True  # reading: GET /api/orders/ shares its URL with placing an order
        return can_manage(user)


class CommandApi(APIView):
    permission_classes = [CanManageOrders]


# A version, as an ETag ("3"; proxies may weaken it: W/"3"; bare: 3), or *.
_VERSION_TAG = r'(?:W/)?"?([0-9]{1,9})"?'
_IF_MATCH = re.compile(rf"^\s*{_VERSION_TAG}\s*$")

IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": rf"^\s*(?:\*|{_VERSION_TAG})\s*$"},
    OpenApiParameter.HEADER,
    description='The version (of the order, product or stock) the command was decided on, e.g. "3" (the ETag '
    "of an earlier response). If it has moved on, the command is refused with 412 and nothing is appended. "
    "Without it, "
    "a concurrent change is retried on fresh state.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description="Any unique string (1-255 printable ASCII). A retry with the same key and body returns the "
    "first response and appends nothing; the same key with a different body gets 422. "
    "Keys expire after 24 h.",
)
CORRELATION_ID = OpenApiParameter(
    "X-Correlation-ID",
    {"type": "string", "pattern": CORRELATION_ID_PATTERN},
    OpenApiParameter.HEADER,
    description="Ties this request's events to a wider workflow (1-128 of letters, digits, ._:/+=-). "
    "A new one is made when absent; the response echoes it.",
)
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='"<version>"')
LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[201], description="The new order"
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    enum=["true"],
    description="Present (`true`) when this is the stored first answer to a request sent again with the "
    "same Idempotency-Key: nothing was appended this time.",
)
COMMAND_PARAMETERS = [IF_MATCH, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, CORRELATION_ID, ETAG]
COMMAND_ERRORS = problem_responses(400, 401, 403, 404, 406, 409, 412, 413, 415, 422)


def no_body(request: Request) -> None:
    """Refuse a body on a command that takes none (its absence, or ``{}``):
    a client that sends one expects it to mean something, and it would not."""
    if request.data or not isinstance(request.data, dict):  # not null, [], 0 or false either
        raise Problem(400, "validation-error", "Invalid request", "This command takes no body.")


def check_path_sku(sku: str) -> None:
    """Refuse (400) a SKU in a product or stock path that is not a SKU
    (a product may be created at it, so it is checked as input)."""
    if not re.fullmatch(rules.SKU_PATTERN, sku):
        raise Problem(
            400,
            "validation-error",
            "Invalid request",
            "The SKU in the path is not a valid SKU.",
            errors={"sku": ["Letters, digits, '-' and '_' (at most 40)."]},
        )


def expected_version(request: Request) -> int | None:
    """The version in If-Match (None without one, or with ``*``)."""
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    match = _IF_MATCH.match(value)
    if not match:
        raise Problem(
            400, "invalid-if-match", "Invalid If-Match", 'If-Match must be a version like "3" (an ETag).'
        )
    return int(match.group(1))


def idempotency_key(request: Request, if_match: int | None) -> IdempotencyKey | None:
    """The request's Idempotency-Key, bound to who sent what (method, path,
    body, If-Match)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    reason = invalid_key_reason(key)
    if reason:
        raise Problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key", f"Idempotency-Key {reason}.")
    return IdempotencyKey.for_http(str(request.user.pk), key, request, request.data or None, if_match)


def execute_for(request: Request, command, *, versioned: bool = True) -> commands.CommandResult:
    """Execute ``command`` as this request's user, with its If-Match (when
    ``versioned``) and Idempotency-Key."""
    if_match = expected_version(request) if versioned else None
    idem = idempotency_key(request, if_match)
    with message_context(user_id=str(request.user.pk)):
        return commands.execute(command, expected_version=if_match, idempotency_key=idem)


def command_response(
    result: commands.CommandResult, *, body: dict | None = None, location: str | None = None
) -> Response:
    """The answer to a command: its result (or ``body``), its ETag, 201 with
    ``location`` for something new, and whether it was an idempotent replay."""
    response = Response(body or result.to_data(), status=201 if location else 200)
    response["ETag"] = f'"{result.version}"'
    if location:
        response["Location"] = location
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def run_command(request: Request, command) -> Response:
    """Execute an order command for this request and answer with its result."""
    versioned = not isinstance(command, commands.PlaceOrder)
    result = execute_for(request, command, versioned=versioned)
    return command_response(result, location=f"/api/orders/{result.order_id}" if result.created else None)

"""The REST command API (and the history and point-in-time reads that replay
the event store). Views parse and validate input, then call
``orders.commands.execute``; no business rule lives here."""

import re
from datetime import UTC, datetime
from uuid import UUID

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.rest import PROBLEM_CONTENT_TYPE, JSONParser, Problem
from eventstore import EventStore
from eventstore.metadata import message_context
from orders import commands
from orders.domain import Line, OrderNotFoundError, rules
from orders.domain.events import AGGREGATE_TYPE
from orders.domain.inventory import MAX_RECEIVE
from orders.idempotency import IdempotencyKey, invalid_key_reason
from orders.repository import OrderRepository
from orders.serializers import (
    CommandResultSerializer,
    LineSerializer,
    ProblemSerializer,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    StrictSerializer,
)

# -- shared pieces ----------------------------------------------------------------


class CanManageOrders(permissions.BasePermission):
    """Staff, and users with the "order manager" permission, may send commands."""

    message = "Sending order commands needs the order manager permission."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True  # reading: GET /api/orders/ shares its URL with placing an order
        return bool(user.is_staff or user.has_perm("orders.manage_orders"))


def _problems(*codes: int) -> dict:
    return {(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer) for code in codes}


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The order version the command was decided on, e.g. "3" (the ETag of an earlier response). '
    "If the order has moved on, the command is refused with 412 and nothing is appended. Without it, "
    "a concurrent change is retried on fresh state.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string (1-255 printable ASCII). A retry with the same key and body returns the "
    "first response and appends nothing; the same key with a different body gets 422. "
    "Keys expire after 24 h.",
)
CORRELATION_ID = OpenApiParameter(
    "X-Correlation-ID",
    str,
    OpenApiParameter.HEADER,
    description="Ties this request's events to a wider workflow (1-128 of letters, digits, ._:/+=-). "
    "A new one is made when absent; the response echoes it.",
)
ETAG = OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='"<version>"')
LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[201], description="The new order"
)
COMMAND_PARAMETERS = [IF_MATCH, IDEMPOTENCY_KEY, CORRELATION_ID, ETAG]
COMMAND_ERRORS = _problems(400, 401, 403, 404, 409, 412, 413, 415, 422)

_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def expected_version(request: Request) -> int | None:
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    match = _IF_MATCH.match(value)
    if not match:
        raise Problem(
            400, "invalid-if-match", "Invalid If-Match", 'If-Match must be an order version like "3".'
        )
    return int(match.group(1))


def idempotency_key(request: Request, if_match: int | None) -> IdempotencyKey | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    reason = invalid_key_reason(key)
    if reason:
        raise Problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key", f"Idempotency-Key {reason}.")
    return IdempotencyKey.for_request(
        str(request.user.pk), key, request.method, request.path, request.data or None, if_match
    )


def run_command(request: Request, command) -> Response:
    """Execute ``command`` for this request and answer with its result."""
    if_match = None if isinstance(command, commands.PlaceOrder) else expected_version(request)
    idem = idempotency_key(request, if_match)
    with message_context(user_id=str(request.user.pk)):
        result = commands.execute(command, expected_version=if_match, idempotency_key=idem)
    response = Response(result.to_data(), status=201 if result.created else 200)
    response["ETag"] = f'"{result.version}"'
    if result.created:
        response["Location"] = f"/api/orders/{result.order_id}"
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class CommandApi(APIView):
    permission_classes = [CanManageOrders]


# -- commands ---------------------------------------------------------------------------


class OrderPlaceApi(CommandApi):
    class PlaceOrderInput(StrictSerializer):
        customer_id = StrictRegexField(
            rules.CUSTOMER_ID_PATTERN,
            max_length=64,
            error_messages={
                "invalid": "Letters, digits and _.:- (at most 64, starting with a letter or digit)."
            },
        )
        items = LineSerializer(many=True, allow_empty=False, max_length=rules.MAX_LINES)

    @extend_schema(
        operation_id="place_order",
        summary="Place an order",
        request=PlaceOrderInput,
        parameters=[IDEMPOTENCY_KEY, CORRELATION_ID, ETAG, LOCATION],
        responses={201: CommandResultSerializer, **_problems(400, 401, 403, 409, 413, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        data = self.PlaceOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = tuple(Line(**line) for line in data.validated_data["items"])
        return run_command(request, commands.PlaceOrder(data.validated_data["customer_id"], items))


class OrderItemAddApi(CommandApi):
    @extend_schema(
        operation_id="add_item",
        summary="Add units of a SKU to an order (adds to the line if the SKU is there)",
        request=LineSerializer,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = LineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return run_command(request, commands.AddItem(order_id, **data.validated_data))


class OrderItemRemoveApi(CommandApi):
    @extend_schema(
        operation_id="remove_item",
        summary="Remove a line from an order",
        request=None,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def delete(self, request: Request, order_id: UUID, sku: str) -> Response:
        return run_command(request, commands.RemoveItem(order_id, sku))


class OrderShipApi(CommandApi):
    class ShipOrderInput(StrictSerializer):
        carrier = StrictCharField(max_length=rules.MAX_CARRIER_LENGTH, required=False, allow_null=True)
        tracking_number = StrictCharField(
            max_length=rules.MAX_TRACKING_LENGTH, required=False, allow_null=True
        )

    @extend_schema(
        operation_id="ship_order",
        summary="Ship an order",
        request=ShipOrderInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = self.ShipOrderInput(data=request.data if request.data else {})
        data.is_valid(raise_exception=True)
        return run_command(request, commands.ShipOrder(order_id, **data.validated_data))


class OrderCancelApi(CommandApi):
    class CancelOrderInput(StrictSerializer):
        reason = StrictCharField(max_length=rules.MAX_REASON_LENGTH)

    @extend_schema(
        operation_id="cancel_order",
        summary="Cancel an order",
        request=CancelOrderInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = self.CancelOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        return run_command(request, commands.CancelOrder(order_id, data.validated_data["reason"]))


# -- history and point-in-time (replays the event store on purpose) ------------------


def event_json(e) -> dict:
    return {
        "position": e.position,
        "version": e.version,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "stored_schema_version": e.stored_schema_version,
        "event_id": str(e.event_id),
        "data": e.data,
        "metadata": e.metadata,
        "created_at": e.created_at.isoformat(),
    }


class OrderEventsApi(APIView):
    class OrderEventsQuery(StrictSerializer):
        after_version = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
        limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)

    @extend_schema(
        operation_id="order_events",
        summary="An order's history: its events, upcast to current schemas, with metadata",
        parameters=[OrderEventsQuery],
        responses={
            200: inline_serializer(
                "OrderHistory",
                {
                    "order_id": serializers.UUIDField(),
                    "events": serializers.ListField(child=serializers.DictField()),
                    "next_after_version": serializers.IntegerField(allow_null=True),
                },
            ),
            **_problems(400, 401, 404),
        },
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        query = self.OrderEventsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after_version"], query.validated_data["limit"]
        events = EventStore().load(order_id, after_version=after, up_to_version=after + limit)
        if not events and (after == 0 or EventStore().stream_version(order_id) == 0):
            raise OrderNotFoundError(order_id)
        if events and events[0].aggregate_type != AGGREGATE_TYPE:
            raise OrderNotFoundError(order_id)
        more = len(events) == limit and EventStore().stream_version(order_id) > events[-1].version
        return Response(
            {
                "order_id": str(order_id),
                "events": [event_json(e) for e in events],
                "next_after_version": events[-1].version if more else None,
            }
        )


class OrderStateApi(APIView):
    class StateQuery(StrictSerializer):
        at = StrictCharField(required=False, help_text="ISO-8601 time; without an offset it is UTC.")

        def validate_at(self, value):
            try:
                parsed = parse_datetime(value)
            except (ValueError, OverflowError):
                parsed = None
            if parsed is None:
                raise serializers.ValidationError("Not an ISO-8601 date-time, e.g. 2026-11-29T12:00:00Z.")
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    @extend_schema(
        operation_id="order_state_at",
        summary="The order as it was at a point in time, replayed from its events",
        parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME, description="default: now")],
        responses={200: OpenApiTypes.OBJECT, **_problems(400, 401, 404)},
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        query = self.StateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or datetime.now(UTC)
        order, history = OrderRepository().get_at(order_id, at)
        if not order.exists or history[0].aggregate_type != AGGREGATE_TYPE:
            raise Problem(
                404,
                "order-not-found",
                "Order not found",
                f"order {order_id} did not exist at {at.isoformat()}",
            )
        state = order.state()
        state.update(
            as_of=at.isoformat(),
            placed_at=history[0].created_at.isoformat(),
            last_event_at=history[-1].created_at.isoformat(),
        )
        return Response(state)


# -- tokens -----------------------------------------------------------------------------


class AuthTokenApi(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; send it as
    ``Authorization: Token <token>``."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="obtain_token",
        summary="Exchange a username and password for an API token",
        request=inline_serializer(
            "TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}
        ),
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            **_problems(400, 413, 415, 429),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


# -- inventory --------------------------------------------------------------------------


class InventoryReceiveApi(CommandApi):
    class ReceiveStockInput(StrictSerializer):
        quantity = StrictIntegerField(min_value=1, max_value=MAX_RECEIVE)

    @extend_schema(
        operation_id="receive_stock",
        summary="Record units of a SKU arriving in the warehouse",
        request=ReceiveStockInput,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, CORRELATION_ID, ETAG],
        responses={
            200: inline_serializer(
                "StockReceipt",
                {
                    "sku": serializers.CharField(),
                    "version": serializers.IntegerField(),
                    "position": serializers.IntegerField(),
                },
            ),
            **_problems(400, 401, 403, 409, 412, 413, 415, 422),
        },
    )
    def post(self, request: Request, sku: str) -> Response:
        if not re.fullmatch(rules.SKU_PATTERN, sku):
            raise Problem(
                400,
                "validation-error",
                "Invalid request",
                "The SKU in the path is not a valid SKU.",
                errors={"sku": ["Letters, digits, '-' and '_' (at most 40)."]},
            )
        data = self.ReceiveStockInput(data=request.data)
        data.is_valid(raise_exception=True)
        if_match = expected_version(request)
        idem = idempotency_key(request, if_match)
        with message_context(user_id=str(request.user.pk)):
            result = commands.execute(
                commands.ReceiveStock(sku, data.validated_data["quantity"]),
                expected_version=if_match,
                idempotency_key=idem,
            )
        response = Response({"sku": sku, "version": result.version, "position": result.position})
        response["ETag"] = f'"{result.version}"'
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

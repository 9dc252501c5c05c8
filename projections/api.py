"""The read API: order queries from the read models, with read-your-writes,
and the projections' status."""

import re
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from eventstore import EventStore
from orders.api import OrderPlaceApi, _problems
from orders.domain import rules
from orders.serializers import StrictRegexField, StrictSerializer
from projections import runner, selectors

ORDER_PROJECTIONS = ("order_list",)

MIN_POSITION = OpenApiParameter(
    "X-Min-Position",
    int,
    OpenApiParameter.HEADER,
    description="A command's `position`: the read waits (up to READ_YOUR_WRITES_TIMEOUT, 5 s) until the "
    "read models include that event, then answers; 503 if they do not in time.",
)
PROJECTION_POSITION = OpenApiParameter(
    "X-Projection-Position",
    int,
    OpenApiParameter.HEADER,
    response=True,
    description="Position of the last event the read models behind this answer have applied.",
)


def consistent_read(request: Request, names: tuple[str, ...]) -> None:
    """Honour X-Min-Position: wait for ``names`` to reach it, or 503."""
    raw = request.headers.get("X-Min-Position")
    if raw is None:
        return
    if not re.fullmatch(r"\s*[0-9]{1,18}\s*", raw):
        raise Problem(
            400, "invalid-min-position", "Invalid X-Min-Position", "X-Min-Position must be a position."
        )
    position = int(raw)
    if EventStore().global_position_of(position) is None:
        raise Problem(
            400,
            "invalid-min-position",
            "Invalid X-Min-Position",
            f"No event has position {position}; send the position a command answered with.",
            headers=position_header(names),
        )
    if not selectors.wait_for_position(names, position):
        raise Problem(
            503,
            "projection-lagging",
            "Read models are behind",
            f"The read models have not reached position {position} yet; retry shortly.",
            retry_after=1,
            headers=position_header(names),
        )


def position_header(names: tuple[str, ...]) -> dict[str, str]:
    return {"X-Projection-Position": str(selectors.projection_position(names))}


def with_position(response: Response, names: tuple[str, ...]) -> Response:
    response["X-Projection-Position"] = str(selectors.projection_position(names))
    return response


def order_row(o) -> dict:
    return {
        "order_id": str(o.order_id),
        "customer_id": o.customer_id,
        "status": o.status,
        "line_count": o.line_count,
        "item_count": o.item_count,
        "total_cents": o.total_cents,
        "placed_at": o.placed_at.isoformat(),
        "shipped_at": o.shipped_at.isoformat() if o.shipped_at else None,
        "cancelled_at": o.cancelled_at.isoformat() if o.cancelled_at else None,
        "version": o.version,
    }


class OrderListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=selectors.STATUSES, required=False)
    customer_id = StrictRegexField(rules.CUSTOMER_ID_PATTERN, max_length=64, required=False)
    placed_from = serializers.DateTimeField(required=False, help_text="inclusive (ISO-8601)")
    placed_to = serializers.DateTimeField(required=False, help_text="exclusive (ISO-8601)")
    total_min = serializers.IntegerField(min_value=0, max_value=2**53, required=False)
    total_max = serializers.IntegerField(min_value=0, max_value=2**53, required=False)
    ordering = serializers.ChoiceField(choices=list(selectors.ORDERINGS), default="-placed_at")
    cursor = serializers.CharField(max_length=500, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class OrderCollectionApi(OrderPlaceApi):
    """GET lists orders (read model); POST places one (command)."""

    @extend_schema(
        operation_id="list_orders",
        summary="List orders (from the order_list read model)",
        parameters=[OrderListQuery, MIN_POSITION, PROJECTION_POSITION],
        responses={
            200: inline_serializer(
                "OrderPage",
                {
                    "results": serializers.ListField(child=serializers.DictField()),
                    "next": serializers.CharField(allow_null=True),
                    "previous": serializers.CharField(allow_null=True),
                },
            ),
            **_problems(400, 401, 503),
        },
    )
    def get(self, request: Request) -> Response:
        query = OrderListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        consistent_read(request, ORDER_PROJECTIONS)
        filters = selectors.OrderFilters(
            status=q.get("status"),
            customer_id=q.get("customer_id"),
            placed_from=q.get("placed_from"),
            placed_to=q.get("placed_to"),
            total_min=q.get("total_min"),
            total_max=q.get("total_max"),
        )
        try:
            page = selectors.order_list(filters, q["ordering"], q.get("cursor"), q["limit"])
        except selectors.InvalidCursorError as exc:
            raise Problem(400, "invalid-cursor", "Invalid cursor", str(exc)) from None

        def link(cursor):
            if cursor is None:
                return None
            params = request.query_params.copy()
            params["cursor"] = cursor
            return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

        body = {
            "results": [order_row(o) for o in page.rows],
            "next": link(page.next_cursor),
            "previous": link(page.previous_cursor),
        }
        return with_position(Response(body), ORDER_PROJECTIONS)


class OrderDetailApi(APIView):
    @extend_schema(
        operation_id="get_order",
        summary="One order with its lines (from the read model)",
        parameters=[MIN_POSITION, PROJECTION_POSITION],
        responses={200: OpenApiTypes.OBJECT, **_problems(400, 401, 404, 503)},
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        consistent_read(request, ORDER_PROJECTIONS)
        found = selectors.order_get(order_id)
        if found is None:
            raise Problem(
                404,
                "order-not-found",
                "Order not found",
                f"order {order_id} does not exist (or is not in the read model yet)",
                headers=position_header(ORDER_PROJECTIONS),
            )
        order, lines = found
        body = order_row(order) | {
            "items": [
                {
                    "sku": ln.sku,
                    "quantity": ln.quantity,
                    "price_cents": ln.price_cents,
                    "line_total_cents": ln.line_total_cents,
                }
                for ln in lines
            ],
            "cancel_reason": order.cancel_reason or None,
            "carrier": order.carrier or None,
            "tracking_number": order.tracking_number or None,
            "last_position": order.last_position,
            "updated_at": order.updated_at.isoformat(),
        }
        response = with_position(Response(body), ORDER_PROJECTIONS)
        response["ETag"] = f'"{order.version}"'
        return response


class ProjectionsApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="projection_status",
        summary="Each projection: events consumed, consistency, checkpoint, lag, failures (staff)",
        responses={200: OpenApiTypes.OBJECT, **_problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response({"projections": runner.status()})


class InventoryListQuery(StrictSerializer):
    sku = StrictRegexField(rules.SKU_PATTERN, max_length=40, required=False, help_text="exact SKU")
    available_max = serializers.IntegerField(
        required=False,
        min_value=-(2**53),
        max_value=2**53,
        help_text="low stock: at most this many available",
    )
    after = StrictRegexField(
        rules.SKU_PATTERN,
        max_length=40,
        required=False,
        help_text="cursor: the last SKU of the previous page",
    )
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


INVENTORY_PROJECTIONS = ("inventory",)


class InventoryListApi(APIView):
    @extend_schema(
        operation_id="list_inventory",
        summary="Stock per SKU: on hand, reserved, available (from the inventory read model)",
        parameters=[InventoryListQuery, MIN_POSITION, PROJECTION_POSITION],
        responses={
            200: inline_serializer(
                "InventoryPage",
                {
                    "results": serializers.ListField(child=serializers.DictField()),
                    "next_after": serializers.CharField(allow_null=True),
                },
            ),
            **_problems(400, 401, 503),
        },
    )
    def get(self, request: Request) -> Response:
        query = InventoryListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        consistent_read(request, INVENTORY_PROJECTIONS)
        rows = selectors.inventory_list(
            sku=q.get("sku"), available_max=q.get("available_max"), after=q.get("after"), limit=q["limit"]
        )
        body = {
            "results": [
                {
                    "sku": r.sku,
                    "on_hand": r.on_hand,
                    "reserved": r.reserved,
                    "available": r.available,
                    "refused": r.refused,
                    "version": r.version,
                    "updated_at": r.updated_at.isoformat(),
                }
                for r in rows
            ],
            "next_after": rows[-1].sku if len(rows) == q["limit"] else None,
        }
        return with_position(Response(body), INVENTORY_PROJECTIONS)

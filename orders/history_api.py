"""An order's history and its state at a point in time: the two reads that
replay the event store on purpose (every other read uses a read model).

Like every read they honour ``X-Min-Position``: on a replica that has not
replayed the command's events yet they read the primary instead, so a
client never gets a history older than its own write. They answer
``X-Consistency-Token`` with a place up to which the log they read is
complete."""

from datetime import UTC, datetime
from uuid import UUID

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import StrictCharField, StrictSerializer, problem_responses
from eventstore import EventStore
from orders.domain.events import AGGREGATE_TYPE, EVENT_TYPES
from orders.repository import OrderRepository
from orders.shipping_serializers import ContactReadSerializer
from projections import selectors
from projections.api import LOG_READ_PARAMETERS, consistent_log_read, log_position_headers

# -- what they answer (for the OpenAPI schema only: event_json and the aggregate's
# state() build the bodies) ---------------------------------------------------------------


class EventMetadataSerializer(serializers.Serializer):
    """Who and what caused an event (null where an internal writer had no value)."""

    correlation_id = serializers.CharField(
        allow_null=True, help_text="The request or workflow it belongs to."
    )
    causation_id = serializers.CharField(allow_null=True, help_text="What caused it (e.g. an event's id).")
    user_id = serializers.CharField(allow_null=True, help_text="The user whose command appended it.")
    command = serializers.CharField(allow_null=True, help_text="The command that appended it.")
    timestamp = serializers.DateTimeField()


class OrderEventSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="Its place in the global log.")
    version = serializers.IntegerField(help_text="The order's version this event made (1 for the first).")
    event_type = serializers.ChoiceField(choices=list(EVENT_TYPES))
    schema_version = serializers.IntegerField(help_text="The schema version `data` is in (upcast to).")
    stored_schema_version = serializers.IntegerField(help_text="The schema version it was stored in.")
    event_id = serializers.UUIDField()
    data = serializers.DictField(
        help_text="Free-form here: the event's own fields, which depend on its type; GET "
        "/api/catalog/events gives each type's JSON Schema."
    )
    metadata = EventMetadataSerializer()
    created_at = serializers.DateTimeField()


class OrderStateLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    price_cents = serializers.IntegerField(help_text="The unit price charged.")
    catalogue_price_cents = serializers.IntegerField(
        allow_null=True,
        help_text="The catalogue's price when the line was priced (null before the catalogue).",
    )
    override_reason = serializers.CharField(
        allow_null=True, help_text="Why a staff user charged another price than the catalogue's."
    )


class OrderStateAddressSerializer(serializers.Serializer):
    """The shipping address as the order's events hold it; every field but the
    country reads "[erased]" once the customer is forgotten."""

    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField(allow_null=True)
    postcode = serializers.CharField(allow_null=True)
    city = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2, e.g. GB")


class OrderStateSerializer(serializers.Serializer):
    """The order replayed from its events up to ``as_of``."""

    order_id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The order's version at that time.")
    status = serializers.ChoiceField(choices=selectors.STATUSES)
    customer_id = serializers.CharField()
    items = OrderStateLineSerializer(many=True, help_text="The lines on the order (rejected ones gone).")
    total_cents = serializers.IntegerField()
    carrier = serializers.CharField(allow_null=True)
    tracking_number = serializers.CharField(allow_null=True)
    cancel_reason = serializers.CharField(allow_null=True)
    requires_confirmation = serializers.BooleanField(help_text="It waits for stock before it can ship.")
    contact = ContactReadSerializer(allow_null=True, help_text="null: placed without one (deprecated).")
    shipping_address = OrderStateAddressSerializer(
        allow_null=True, help_text="null: placed without one (deprecated)."
    )
    as_of = serializers.DateTimeField(help_text="The time asked for (`at`, or now), in UTC.")
    placed_at = serializers.DateTimeField()
    last_event_at = serializers.DateTimeField(help_text="When the last event up to as_of was recorded.")


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
        parameters=[OrderEventsQuery, *LOG_READ_PARAMETERS],
        responses={
            200: inline_serializer(
                "OrderHistory",
                {
                    "order_id": serializers.UUIDField(),
                    "events": OrderEventSerializer(many=True),
                    "next_after_version": serializers.IntegerField(
                        allow_null=True, help_text="`after_version` for the next page (null: no more)."
                    ),
                },
            ),
            **problem_responses(400, 401, 404, 406),
        },
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        query = self.OrderEventsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after_version"], query.validated_data["limit"]
        consistent_log_read(request)
        store = EventStore()
        events = store.load(order_id, after_version=after, up_to_version=after + limit)
        # Past its end, the stream's first event says whether it is an order.
        first = events[:1] or (store.load(order_id, up_to_version=1) if after else [])
        if not first or first[0].aggregate_type != AGGREGATE_TYPE:
            raise not_found(order_id, f"order {order_id} does not exist")
        more = len(events) == limit and store.stream_version(order_id) > events[-1].version
        body = {
            "order_id": str(order_id),
            "events": [event_json(e) for e in events],
            "next_after_version": events[-1].version if more else None,
        }
        return Response(body, headers=log_position_headers())


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
            try:
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
            except OverflowError:  # the calendar's first hours, east of UTC
                raise serializers.ValidationError("Out of the range of dates this service keeps.") from None

    @extend_schema(
        operation_id="order_state_at",
        summary="The order as it was at a point in time, replayed from its events",
        parameters=[
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="default: now"),
            *LOG_READ_PARAMETERS,
        ],
        responses={200: OrderStateSerializer, **problem_responses(400, 401, 404, 406)},
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        query = self.StateQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or datetime.now(UTC)
        consistent_log_read(request)
        order, history = OrderRepository().get_at(order_id, at)
        if not order.exists:
            raise not_found(order_id, f"order {order_id} did not exist at {at.isoformat()}")
        state = order.state()
        state.update(
            as_of=at.isoformat(),
            placed_at=history[0].created_at.isoformat(),
            last_event_at=history[-1].created_at.isoformat(),
        )
        return Response(state, headers=log_position_headers())


def not_found(order_id: UUID, detail: str) -> Problem:
    headers = log_position_headers()
    return Problem(404, "order-not-found", "Order not found", detail, headers=headers, order_id=str(order_id))

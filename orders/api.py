"""The order REST API: commands (through ``orders.commands``) and queries
(from the read models, through ``projections.selectors``), composed per URL."""

from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import (
    StrictBooleanField,
    StrictIntegerField,
    StrictRegexField,
    StrictSerializer,
    UtcDateTimeField,
    problem_responses,
)
from orders import commands
from orders.domain import rules
from orders.http import (
    COMMAND_ERRORS,
    COMMAND_PARAMETERS,
    CORRELATION_ID,
    ETAG,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED,
    LOCATION,
    CommandApi,
    run_command,
)
from orders.serializers import (
    CommandResultSerializer,
    LineSerializer,
    OrderSerializer,
    OrderSummarySerializer,
    line_request,
)
from orders.shipping_serializers import (
    ContactSerializer,
    ShippingAddressSerializer,
    StrictEmailField,
    address_json,
    contact_json,
    details_of,
)
from orders.text_fields import text_field
from projections import selectors
from projections.api import READ_PARAMETERS, consistent_read, position_headers, with_position

ORDER_READ_MODELS = ("order_list", "shipping_details")


# -- queries ----------------------------------------------------------------------------


def check_override_allowed(request: Request, items) -> None:
    """Only staff may charge another price than the catalogue's."""
    if any(item.override_reason for item in items) and not request.user.is_staff:
        raise Problem(
            403,
            "price-override-forbidden",
            "Price overrides need a staff user",
            "Only staff may charge another price than the catalogue's (price_override_reason).",
        )


class OrderListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=selectors.STATUSES, required=False)
    customer_id = StrictRegexField(
        rules.CUSTOMER_ID_PATTERN, max_length=64, required=False, help_text="exactly this customer"
    )
    customer_prefix = serializers.CharField(
        max_length=64, required=False, help_text="customers whose id starts with this, in any case"
    )
    customer_email = StrictEmailField(required=False, help_text="exact, case-insensitive")
    placed_from = UtcDateTimeField(required=False, help_text="inclusive (ISO-8601)")
    placed_to = UtcDateTimeField(required=False, help_text="exclusive (ISO-8601)")
    total_min = serializers.IntegerField(min_value=0, max_value=2**53, required=False)
    total_max = serializers.IntegerField(min_value=0, max_value=2**53, required=False)
    ordering = serializers.ChoiceField(choices=list(selectors.ORDERINGS), default="-placed_at")
    cursor = serializers.CharField(max_length=500, required=False, trim_whitespace=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


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


def line_row(ln) -> dict:
    return {
        "sku": ln.sku,
        "quantity": ln.quantity,
        "price_cents": ln.price_cents,
        "line_total_cents": ln.line_total_cents,
        "catalogue_price_cents": ln.catalogue_price_cents,
        "price_override_reason": ln.override_reason or None,
        "status": ln.status,
        "rejected_quantity": ln.rejected_quantity,
        "rejection_reason": ln.rejection_reason or None,
    }


def list_orders(request: Request) -> Response:
    """One page of the order list (read model), with links to the next and previous."""
    query = OrderListQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    q = query.validated_data
    consistent_read(request, ORDER_READ_MODELS)
    filters = selectors.OrderFilters(
        status=q.get("status"),
        customer_id=q.get("customer_id"),
        customer_prefix=q.get("customer_prefix"),
        placed_from=q.get("placed_from"),
        placed_to=q.get("placed_to"),
        total_min=q.get("total_min"),
        total_max=q.get("total_max"),
        email_hash=selectors.email_lookup(q["customer_email"]) if q.get("customer_email") else None,
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
    return with_position(Response(body), ORDER_READ_MODELS)


PLACE_ORDER_CONFLICTS = (
    "The rules forbid it; nothing is placed. E.g. `/problems/price-changed` (a stated price is not "
    "the catalogue's: `sku`, `current_price_cents`, `stated_price_cents`, `current_prices`), "
    "`/problems/product-discontinued` (`skus`), or `/problems/customer-spelled-otherwise`: no customer "
    "has `customer_id`, but a known customer has it in another case (customer ids are case-sensitive), "
    "named in `known_customer_id`; send `new_customer: true` if it is another customer."
)


class OrderCollectionApi(CommandApi):
    """GET lists orders (read model); POST places one (command)."""

    class PlaceOrderInput(StrictSerializer):
        customer_id = StrictRegexField(
            rules.CUSTOMER_ID_PATTERN,
            max_length=64,
            error_messages={
                "invalid": "Letters a-z and A-Z (no accents), digits and _.:- "
                "(at most 64, starting with a letter or digit)."
            },
        )
        items = LineSerializer(many=True, allow_empty=False, max_length=rules.MAX_LINES)
        # Optional for now, so clients from before keep working (deprecated:
        # an order without them cannot be shipped anywhere); both or neither.
        contact = ContactSerializer(required=False)
        shipping_address = ShippingAddressSerializer(required=False)
        new_customer = StrictBooleanField(
            required=False,
            default=False,
            help_text="true: customer_id is a new customer even though a known customer's id differs from "
            "it only in case (for clients whose own ids are case-sensitive); otherwise that is refused "
            "with 409 /problems/customer-spelled-otherwise.",
        )

        def validate(self, data):
            if ("contact" in data) != ("shipping_address" in data):
                missing = "shipping_address" if "contact" in data else "contact"
                raise serializers.ValidationError({missing: ["Give both contact and shipping_address."]})
            return data

    @extend_schema(
        operation_id="list_orders",
        summary="List orders (from the order_list read model)",
        parameters=[OrderListQuery, *READ_PARAMETERS],
        responses={
            200: inline_serializer(
                "OrderPage",
                {
                    "results": OrderSummarySerializer(many=True),
                    "next": serializers.URLField(allow_null=True, help_text="The next page (null: none)."),
                    "previous": serializers.URLField(
                        allow_null=True, help_text="The previous page (null: none)."
                    ),
                },
            ),
            **problem_responses(400, 401, 406, 503),
        },
    )
    def get(self, request: Request) -> Response:
        return list_orders(request)

    @extend_schema(
        operation_id="place_order",
        summary="Place an order",
        request=PlaceOrderInput,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, CORRELATION_ID, ETAG, LOCATION],
        responses={
            201: CommandResultSerializer,
            **problem_responses(
                400, 401, 403, 406, 409, 413, 415, 422, described={409: PLACE_ORDER_CONFLICTS}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PlaceOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = tuple(line_request(line) for line in data.validated_data["items"])
        check_override_allowed(request, items)
        details = details_of(data.validated_data)
        new_customer = data.validated_data["new_customer"]
        command = commands.PlaceOrder(
            data.validated_data["customer_id"], items, new_customer=new_customer, **details
        )
        return run_command(request, command)


class OrderDetailApi(APIView):
    @extend_schema(
        operation_id="get_order",
        summary="One order with its lines (from the read model)",
        parameters=[*READ_PARAMETERS, ETAG],
        responses={200: OrderSerializer, **problem_responses(400, 401, 404, 406, 503)},
    )
    def get(self, request: Request, order_id: UUID) -> Response:
        consistent_read(request, ORDER_READ_MODELS)
        found = selectors.order_get(order_id)
        if found is None:
            raise Problem(
                404,
                "order-not-found",
                "Order not found",
                f"order {order_id} does not exist (or is not in the read model yet)",
                headers=position_headers(ORDER_READ_MODELS),
            )
        order, lines = found
        body = order_row(order) | {
            "items": [line_row(ln) for ln in lines if ln.status == "active"],
            "rejected_items": [line_row(ln) for ln in lines if ln.status == "rejected"],
            "cancel_reason": order.cancel_reason or None,
            "carrier": order.carrier or None,
            "tracking_number": order.tracking_number or None,
            "contact": contact_json(shipping := selectors.order_shipping(order_id)),
            "shipping_address": address_json(shipping),
            "last_position": order.last_position,
            "updated_at": order.updated_at.isoformat(),
        }
        response = with_position(Response(body), ORDER_READ_MODELS)
        response["ETag"] = f'"{order.version}"'
        return response


# -- commands on one order ----------------------------------------------------------------


class OrderItemAddApi(CommandApi):
    @extend_schema(
        operation_id="add_item",
        summary="Add units of a SKU at the catalogue price (adds to the line if the SKU is there)",
        request=LineSerializer,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = LineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = line_request(data.validated_data)
        check_override_allowed(request, [line])
        return run_command(
            request,
            commands.AddItem(order_id, line.sku, line.quantity, line.price_cents, line.override_reason),
        )


class OrderItemApi(CommandApi):
    """One line of an order: change its quantity (PUT or PATCH), or remove it (DELETE)."""

    class ChangeQuantityInput(StrictSerializer):
        quantity = StrictIntegerField(min_value=rules.MIN_QUANTITY, max_value=rules.MAX_QUANTITY)

    def _change_quantity(self, request: Request, order_id: UUID, sku: str) -> Response:
        data = self.ChangeQuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        return run_command(
            request, commands.ChangeLineQuantity(order_id, sku, data.validated_data["quantity"])
        )

    @extend_schema(
        operation_id="change_line_quantity",
        summary="Set a line's quantity (same unit price); stock is re-reserved or released",
        request=ChangeQuantityInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def put(self, request: Request, order_id: UUID, sku: str) -> Response:
        return self._change_quantity(request, order_id, sku)

    @extend_schema(
        operation_id="patch_line_quantity",
        summary="Set a line's quantity (the same as PUT)",
        request=ChangeQuantityInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def patch(self, request: Request, order_id: UUID, sku: str) -> Response:
        return self._change_quantity(request, order_id, sku)

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
        carrier = text_field(rules.MAX_CARRIER_LENGTH, required=False, allow_null=True)
        tracking_number = text_field(rules.MAX_TRACKING_LENGTH, required=False, allow_null=True)

    @extend_schema(
        operation_id="ship_order",
        summary="Ship an order",
        request=ShipOrderInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = self.ShipOrderInput(data=request.data)  # no body: {} (JSON false, 0, [] are refused)
        data.is_valid(raise_exception=True)
        return run_command(request, commands.ShipOrder(order_id, **data.validated_data))


class OrderNoteApi(CommandApi):
    class AddNoteInput(StrictSerializer):
        text = text_field(rules.MAX_NOTE_LENGTH, lines=True)

    @extend_schema(
        operation_id="add_note",
        summary="Add an internal note to an order (any status); the timeline shows who wrote it and when",
        request=AddNoteInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = self.AddNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        return run_command(request, commands.AddNote(order_id, data.validated_data["text"]))


class OrderCancelApi(CommandApi):
    class CancelOrderInput(StrictSerializer):
        reason = text_field(rules.MAX_REASON_LENGTH)

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

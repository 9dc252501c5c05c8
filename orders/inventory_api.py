"""Stock over REST: receiving stock (a command on the SKU's inventory) and
the stock levels (the inventory read model)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.serializers import StrictIntegerField, StrictRegexField, StrictSerializer, problem_responses
from orders import commands
from orders.domain import rules
from orders.domain.inventory import MAX_RECEIVE
from orders.http import (
    CORRELATION_ID,
    ETAG,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED,
    IF_MATCH,
    CommandApi,
    check_path_sku,
    command_response,
    execute_for,
)
from projections import selectors
from projections.api import READ_PARAMETERS, consistent_read, with_position

INVENTORY_READ_MODELS = ("inventory",)


class InventoryReceiveApi(CommandApi):
    class ReceiveStockInput(StrictSerializer):
        quantity = StrictIntegerField(min_value=1, max_value=MAX_RECEIVE)

    @extend_schema(
        operation_id="receive_stock",
        summary="Record units of a product of the catalogue arriving in the warehouse (404: not in it)",
        request=ReceiveStockInput,
        parameters=[IF_MATCH, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, CORRELATION_ID, ETAG],
        responses={
            200: inline_serializer(
                "StockReceipt",
                {
                    "sku": serializers.CharField(),
                    "version": serializers.IntegerField(),
                    "position": serializers.IntegerField(),
                    "consistency_token": serializers.CharField(),
                },
            ),
            **problem_responses(400, 401, 403, 404, 406, 409, 412, 413, 415, 422),
        },
    )
    def post(self, request: Request, sku: str) -> Response:
        check_path_sku(sku)
        data = self.ReceiveStockInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = execute_for(request, commands.ReceiveStock(sku, data.validated_data["quantity"]))
        return command_response(
            result,
            body={
                "sku": sku,
                "version": result.version,
                "position": result.position,
                "consistency_token": result.consistency_token,
            },
        )


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


class InventoryListApi(APIView):
    @extend_schema(
        operation_id="list_inventory",
        summary="Stock per SKU: on hand, reserved, available (from the inventory read model)",
        parameters=[InventoryListQuery, *READ_PARAMETERS],
        responses={
            200: inline_serializer(
                "InventoryPage",
                {
                    "results": inline_serializer(
                        "StockLevel",
                        {
                            "sku": serializers.CharField(),
                            "on_hand": serializers.IntegerField(help_text="Units in the warehouse."),
                            "reserved": serializers.IntegerField(help_text="Units reserved for orders."),
                            "available": serializers.IntegerField(help_text="on_hand - reserved"),
                            "refused": serializers.IntegerField(
                                help_text="Reservations refused for lack of stock."
                            ),
                            "version": serializers.IntegerField(help_text="The SKU's stock version."),
                            "updated_at": serializers.DateTimeField(),
                        },
                        many=True,
                    ),
                    "next_after": serializers.CharField(
                        allow_null=True, help_text="`after` for the next page (null: nothing after this one)."
                    ),
                },
            ),
            **problem_responses(400, 401, 406, 503),
        },
    )
    def get(self, request: Request) -> Response:
        query = InventoryListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        consistent_read(request, INVENTORY_READ_MODELS)
        # One more than a page: whether there is a next one (a full page may be the last).
        rows = selectors.inventory_list(
            sku=q.get("sku"), available_max=q.get("available_max"), after=q.get("after"), limit=q["limit"] + 1
        )
        rows, more = rows[: q["limit"]], len(rows) > q["limit"]
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
            "next_after": rows[-1].sku if more else None,
        }
        return with_position(Response(body), INVENTORY_READ_MODELS)

"""The catalogue over REST: product commands (through ``orders.commands``,
with the If-Match / Idempotency-Key / problem+json rules of every command)
and the products read model."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import (
    StrictIntegerField,
    StrictRegexField,
    StrictSerializer,
    problem_responses,
)
from orders import commands
from orders.domain import product, rules
from orders.http import (
    COMMAND_PARAMETERS,
    CORRELATION_ID,
    ETAG,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED,
    CommandApi,
    check_path_sku,
    command_response,
    execute_for,
    no_body,
)
from orders.serializers import sku_field
from orders.text_fields import text_field
from projections import selectors
from projections.api import READ_PARAMETERS, consistent_read, position_headers, with_position

PRODUCT_READ_MODELS = ("products",)
PRODUCT_LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[201], description="The new product"
)
PRODUCT_ERRORS = problem_responses(400, 401, 403, 404, 406, 409, 412, 413, 415, 422)

ProductCommandResult = inline_serializer(
    "ProductCommandResult",
    {
        "sku": serializers.CharField(),
        "version": serializers.IntegerField(help_text="The product's version (also the ETag)."),
        "position": serializers.IntegerField(),
        "consistency_token": serializers.CharField(help_text="Send as X-Min-Position on a read."),
    },
)


class ProductSerializer(serializers.Serializer):
    """A product of the catalogue (the products read model; product_row builds the body)."""

    sku = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(help_text="Empty when it has none.")
    price_cents = serializers.IntegerField(help_text="Unit price in minor units of SHOP_CURRENCY.")
    active = serializers.BooleanField(help_text="False: discontinued, new orders and lines refuse it.")
    version = serializers.IntegerField(help_text="The product's version (its ETag).")
    added_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _price_field(**kwargs):
    return StrictIntegerField(
        min_value=rules.MIN_PRICE_CENTS,
        max_value=rules.MAX_PRICE_CENTS,
        help_text="Unit price in minor units of SHOP_CURRENCY (1999 = 19.99 EUR).",
        **kwargs,
    )


def product_row(p) -> dict:
    return {
        "sku": p.sku,
        "name": p.name,
        "description": p.description,
        "price_cents": p.price_cents,
        "active": p.active,
        "version": p.version,
        "added_at": p.added_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def _run(request: Request, command, *, location: str | None = None) -> Response:
    result = execute_for(request, command, versioned=location is None)
    body = {
        "sku": command.sku,
        "version": result.version,
        "position": result.position,
        "consistency_token": result.consistency_token,
    }
    return command_response(result, body=body, location=location if result.created else None)


class ProductListQuery(StrictSerializer):
    q = serializers.CharField(
        max_length=120, required=False, help_text="the start of the SKU or any part of the name"
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    after = StrictRegexField(
        rules.SKU_PATTERN,
        max_length=40,
        required=False,
        help_text="cursor: the last SKU of the previous page",
    )
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


ADD_PRODUCT_CONFLICTS = (
    "Nothing is added. `/problems/product-exists`: the catalogue has this SKU; "
    "`/problems/sku-spelled-otherwise`: it has this SKU in another case (SKUs are case-sensitive), "
    "named in `known_sku`."
)


class ProductCollectionApi(CommandApi):
    """GET lists the catalogue (read model); POST adds a product (command)."""

    class AddProductInput(StrictSerializer):
        sku = sku_field()
        name = text_field(product.MAX_NAME_LENGTH)
        description = text_field(
            product.MAX_DESCRIPTION_LENGTH, lines=True, required=False, allow_blank=True, default=""
        )
        price_cents = _price_field()
        active = serializers.BooleanField(required=False, default=True)

    @extend_schema(
        operation_id="list_products",
        summary="List the catalogue (from the products read model), searchable",
        parameters=[ProductListQuery, *READ_PARAMETERS],
        responses={
            200: inline_serializer(
                "ProductPage",
                {
                    "results": ProductSerializer(many=True),
                    "next_after": serializers.CharField(
                        allow_null=True, help_text="`after` for the next page (null: nothing after this one)."
                    ),
                },
            ),
            **problem_responses(400, 401, 406, 503),
        },
    )
    def get(self, request: Request) -> Response:
        query = ProductListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        consistent_read(request, PRODUCT_READ_MODELS)
        # One more than a page: whether there is a next one (a full page may be the last).
        rows = selectors.product_list(q.get("q"), q.get("active"), q.get("after"), q["limit"] + 1)
        rows, more = rows[: q["limit"]], len(rows) > q["limit"]
        body = {
            "results": [product_row(p) for p in rows],
            "next_after": rows[-1].sku if more else None,
        }
        return with_position(Response(body), PRODUCT_READ_MODELS)

    @extend_schema(
        operation_id="add_product",
        summary="Add a product to the catalogue",
        request=AddProductInput,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, CORRELATION_ID, ETAG, PRODUCT_LOCATION],
        # Neither 404 nor 412: the product is new, and If-Match is not read.
        responses={
            201: ProductCommandResult,
            **problem_responses(
                400, 401, 403, 406, 409, 413, 415, 422, described={409: ADD_PRODUCT_CONFLICTS}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.AddProductInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        command = commands.AddProduct(d["sku"], d["name"], d["price_cents"], d["description"], d["active"])
        return _run(request, command, location=f"/api/products/{d['sku']}")


class ProductDetailApi(APIView):
    @extend_schema(
        operation_id="get_product",
        summary="One product (from the products read model)",
        parameters=[*READ_PARAMETERS, ETAG],
        responses={200: ProductSerializer, **problem_responses(400, 401, 404, 406, 503)},
    )
    def get(self, request: Request, sku: str) -> Response:
        check_path_sku(sku)
        consistent_read(request, PRODUCT_READ_MODELS)
        found = selectors.product_get(sku)
        if found is None:
            raise Problem(
                404,
                "product-not-found",
                "Product not found",
                f"SKU {sku} is not in the catalogue (or not in the read model yet)",
                headers=position_headers(PRODUCT_READ_MODELS),
            )
        response = with_position(Response(product_row(found)), PRODUCT_READ_MODELS)
        response["ETag"] = f'"{found.version}"'
        return response


class ProductPriceApi(CommandApi):
    class ChangePriceInput(StrictSerializer):
        price_cents = _price_field()

    @extend_schema(
        operation_id="change_product_price",
        summary="Change a product's unit price (orders already placed keep theirs)",
        request=ChangePriceInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: ProductCommandResult, **PRODUCT_ERRORS},
    )
    def post(self, request: Request, sku: str) -> Response:
        check_path_sku(sku)
        data = self.ChangePriceInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _run(request, commands.ChangeProductPrice(sku, data.validated_data["price_cents"]))


class ProductRenameApi(CommandApi):
    class RenameInput(StrictSerializer):
        name = text_field(product.MAX_NAME_LENGTH)
        description = text_field(
            product.MAX_DESCRIPTION_LENGTH,
            lines=True,
            required=False,
            allow_blank=True,
            allow_null=True,
            help_text="the new description; left as it is when absent",
        )

    @extend_schema(
        operation_id="rename_product",
        summary="Rename a product (and change its description)",
        request=RenameInput,
        parameters=COMMAND_PARAMETERS,
        responses={200: ProductCommandResult, **PRODUCT_ERRORS},
    )
    def post(self, request: Request, sku: str) -> Response:
        check_path_sku(sku)
        data = self.RenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        return _run(request, commands.RenameProduct(sku, d["name"], d.get("description")))


class _ProductStateApi(CommandApi):
    command: type

    def post(self, request: Request, sku: str) -> Response:
        check_path_sku(sku)
        no_body(request)
        return _run(request, self.command(sku))


class ProductDiscontinueApi(_ProductStateApi):
    command = commands.DiscontinueProduct

    @extend_schema(
        operation_id="discontinue_product",
        summary="Stop selling a product: new orders and lines refuse it (409)",
        request=None,
        parameters=COMMAND_PARAMETERS,
        responses={200: ProductCommandResult, **PRODUCT_ERRORS},
    )
    def post(self, request: Request, sku: str) -> Response:
        return super().post(request, sku)


class ProductReactivateApi(_ProductStateApi):
    command = commands.ReactivateProduct

    @extend_schema(
        operation_id="reactivate_product",
        summary="Sell a discontinued product again",
        request=None,
        parameters=COMMAND_PARAMETERS,
        responses={200: ProductCommandResult, **PRODUCT_ERRORS},
    )
    def post(self, request: Request, sku: str) -> Response:
        return super().post(request, sku)

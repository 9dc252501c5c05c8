"""The customer API: a customer's details and totals, forgetting a customer
(staff), and changing an open order's shipping address."""

from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import problem_responses
from orders import commands
from orders.domain import rules
from orders.http import (
    COMMAND_ERRORS,
    COMMAND_PARAMETERS,
    CORRELATION_ID,
    ETAG,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED,
    CommandApi,
    command_response,
    execute_for,
    no_body,
    run_command,
)
from orders.serializers import CommandResultSerializer
from orders.shipping_serializers import (
    ContactReadSerializer,
    ShippingAddressReadSerializer,
    ShippingAddressSerializer,
    address_json,
    contact_json,
)
from projections import selectors
from projections.api import READ_PARAMETERS, consistent_read, position_headers, with_position

CUSTOMER_READ_MODELS = ("customer_summary", "shipping_details")


def checked_customer_id(customer_id: str) -> str:
    if not rules.is_customer_id(customer_id):
        raise Problem(
            400,
            "validation-error",
            "Invalid request",
            "A customer id is letters, digits and _.:- (at most 64, starting with a letter or digit).",
            errors={"customer_id": ["Not a customer id."]},
        )
    return customer_id


class OrderShippingAddressApi(CommandApi):
    @extend_schema(
        operation_id="change_shipping_address",
        summary="Ship an open order to another address",
        request=ShippingAddressSerializer,
        parameters=COMMAND_PARAMETERS,
        responses={200: CommandResultSerializer, **COMMAND_ERRORS},
    )
    def post(self, request: Request, order_id: UUID) -> Response:
        data = ShippingAddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = ShippingAddressSerializer.address_of(data.validated_data)
        return run_command(request, commands.ChangeShippingAddress(order_id, address))


class CustomerApi(APIView):
    @extend_schema(
        operation_id="get_customer",
        summary="A customer's latest contact and shipping address, and their order totals",
        parameters=READ_PARAMETERS,
        responses={
            200: inline_serializer(
                "Customer",
                {
                    "customer_id": serializers.CharField(),
                    "contact": ContactReadSerializer(
                        allow_null=True, help_text="The latest given (null: none)."
                    ),
                    "shipping_address": ShippingAddressReadSerializer(
                        allow_null=True, help_text="The latest given (null: none)."
                    ),
                    "erased": serializers.BooleanField(help_text="Forgotten: their personal data is erased."),
                    "orders_placed": serializers.IntegerField(),
                    "orders_open": serializers.IntegerField(
                        help_text="Placed or confirmed, not yet shipped."
                    ),
                    "orders_shipped": serializers.IntegerField(),
                    "orders_cancelled": serializers.IntegerField(),
                    "lifetime_total_cents": serializers.IntegerField(help_text="Open and shipped orders."),
                },
            ),
            **problem_responses(400, 401, 404, 406, 503),
        },
    )
    def get(self, request: Request, customer_id: str) -> Response:
        checked_customer_id(customer_id)
        consistent_read(request, CUSTOMER_READ_MODELS)
        summary, details = selectors.customer_get(customer_id), selectors.customer_details(customer_id)
        if summary is None and details is None:
            raise Problem(
                404,
                "customer-not-found",
                "Customer not found",
                f"no orders of customer {customer_id} (or not in the read models yet)",
                headers=position_headers(CUSTOMER_READ_MODELS),
            )
        totals = {
            name: getattr(summary, name) if summary else 0
            for name in ("orders_placed", "orders_open", "orders_shipped", "orders_cancelled")
        }
        body = {
            "customer_id": customer_id,
            "contact": contact_json(details),
            "shipping_address": address_json(details),
            "erased": bool(details and details.erased),
            **totals,
            "lifetime_total_cents": summary.lifetime_total_cents if summary else 0,
        }
        return with_position(Response(body), CUSTOMER_READ_MODELS)


class IsStaff(permissions.BasePermission):
    message = "Only staff may forget a customer."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


FORGET_CONFLICT = (
    "Nothing is erased. `/problems/customer-spelled-otherwise`: no customer has this id, but a known "
    "customer has it in another case (customer ids are case-sensitive), named in `known_customer_id`."
)


class CustomerForgetApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="forget_customer",
        summary="Erase a customer's personal data (staff): crypto-shredding, cannot be undone",
        description="Deletes the customer's data key and records CustomerForgotten. Every personal "
        'field of theirs then reads as "[erased]"; orders keep their lines, totals and history. '
        "Forgetting again answers 200 and records nothing new; its position and consistency_token "
        "are the erasure's, usable as X-Min-Position. A malformed customer id is a 400.",
        request=None,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, CORRELATION_ID, ETAG],
        responses={
            200: inline_serializer(
                "CustomerForgottenResult",
                {
                    "customer_id": serializers.CharField(),
                    "forgotten": serializers.BooleanField(),
                    "recorded": serializers.BooleanField(help_text="False: forgotten before, nothing new"),
                    "version": serializers.IntegerField(),
                    "position": serializers.IntegerField(),
                    "consistency_token": serializers.CharField(),
                },
            ),
            # 413/415: a body sent with an Idempotency-Key is read (it is part of the key).
            **problem_responses(400, 401, 403, 406, 409, 413, 415, 422, described={409: FORGET_CONFLICT}),
        },
    )
    def post(self, request: Request, customer_id: str) -> Response:
        checked_customer_id(customer_id)
        no_body(request)  # forgetting cannot be undone: nothing in a body may seem to qualify it
        result = execute_for(request, commands.ForgetCustomer(customer_id), versioned=False)
        body = {
            "customer_id": customer_id,
            "forgotten": True,
            "recorded": result.changed,  # a replay: as the first answer said
            "version": result.version,
            "position": result.position,
            "consistency_token": result.consistency_token,
        }
        return command_response(result, body=body)

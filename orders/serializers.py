"""Order-specific REST shapes (the strict field types are ``config.serializers``)."""

from rest_framework import serializers

from config.serializers import StrictIntegerField, StrictRegexField, StrictSerializer
from orders.domain import LineRequest, rules
from orders.shipping_serializers import ContactReadSerializer, ShippingAddressReadSerializer
from orders.text_fields import text_field
from projections import selectors

# An order line's status in the order_lines read model.
LINE_STATUSES = ("active", "rejected")


def sku_field(**kwargs) -> serializers.RegexField:
    return StrictRegexField(
        rules.SKU_PATTERN,
        max_length=40,
        error_messages={"invalid": "A short code of letters, digits, '-' and '_' (at most 40)."},
        **kwargs,
    )


class LineSerializer(StrictSerializer):
    sku = sku_field()
    quantity = StrictIntegerField(min_value=rules.MIN_QUANTITY, max_value=rules.MAX_QUANTITY)
    price_cents = StrictIntegerField(
        min_value=rules.MIN_PRICE_CENTS,
        max_value=rules.MAX_PRICE_CENTS,
        required=False,
        allow_null=True,
        help_text="Optional: the unit price (minor units of SHOP_CURRENCY) the client showed its customer. "
        "The catalogue's price is charged; if this differs the command is refused with 409 "
        "/problems/price-changed carrying the current price, unless a staff user gives "
        "price_override_reason, and then this price is charged.",
    )
    price_override_reason = text_field(
        rules.MAX_REASON_LENGTH,
        required=False,
        allow_null=True,
        help_text="Staff only (others get 403): why this line is charged price_cents instead of the "
        "catalogue's price. Recorded on the order's event.",
    )

    def validate(self, attrs):
        if attrs.get("price_override_reason") and attrs.get("price_cents") is None:
            raise serializers.ValidationError(
                {"price_cents": ["A price override needs the price to charge (price_cents)."]}
            )
        return attrs


def line_request(data: dict) -> LineRequest:
    return LineRequest(
        data["sku"], data["quantity"], data.get("price_cents"), data.get("price_override_reason") or None
    )


class CommandResultSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The order's version after the command (also the ETag).")
    position = serializers.IntegerField(
        help_text="The global position of the last event appended. Deprecated as a consistency token "
        "(positions are handed out before commit, so they do not order the log): use consistency_token."
    )
    consistency_token = serializers.CharField(
        help_text="Names the last event appended: send it as X-Min-Position on a read to see this "
        "command's effect. Opaque; two tokens compare as strings in the order of the log."
    )


# -- what the order reads answer (for the OpenAPI schema only: orders.api's order_row
# and line_row build the bodies from the read model) -----------------------------------------


class OrderSummarySerializer(serializers.Serializer):
    """An order as the order list shows it (the order_list read model)."""

    order_id = serializers.UUIDField()
    customer_id = serializers.CharField()
    status = serializers.ChoiceField(choices=selectors.STATUSES)
    line_count = serializers.IntegerField(help_text="Lines still on the order (rejected ones not counted).")
    item_count = serializers.IntegerField(help_text="Units on the order, over all its lines.")
    total_cents = serializers.IntegerField(help_text="What the order costs, in minor units of SHOP_CURRENCY.")
    placed_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(help_text="The order's version (its ETag).")


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Units on the order (0 for a line rejected whole).")
    price_cents = serializers.IntegerField(help_text="The unit price charged.")
    line_total_cents = serializers.IntegerField()
    catalogue_price_cents = serializers.IntegerField(
        allow_null=True,
        help_text="The catalogue's price when the line was priced (null before the catalogue).",
    )
    price_override_reason = serializers.CharField(
        allow_null=True, help_text="Why a staff user charged another price than the catalogue's."
    )
    status = serializers.ChoiceField(
        choices=LINE_STATUSES, help_text="active, or rejected: rejected whole for lack of stock."
    )
    rejected_quantity = serializers.IntegerField(help_text="Units rejected for lack of stock.")
    rejection_reason = serializers.CharField(allow_null=True)


class OrderSerializer(OrderSummarySerializer):
    """One order with its lines (the order_list and shipping_details read models)."""

    items = OrderLineSerializer(many=True, help_text="The lines on the order (status active).")
    rejected_items = OrderLineSerializer(many=True, help_text="Lines rejected whole (status rejected).")
    cancel_reason = serializers.CharField(allow_null=True)
    carrier = serializers.CharField(allow_null=True)
    tracking_number = serializers.CharField(allow_null=True)
    contact = ContactReadSerializer(allow_null=True, help_text="null: placed without one (deprecated).")
    shipping_address = ShippingAddressReadSerializer(
        allow_null=True, help_text="null: placed without one (deprecated)."
    )
    last_position = serializers.IntegerField(help_text="Global position of the last event applied.")
    updated_at = serializers.DateTimeField()

"""Order-specific REST shapes (the strict field types are ``config.serializers``)."""

from rest_framework import serializers

from config.serializers import StrictCharField, StrictIntegerField, StrictRegexField, StrictSerializer
from orders.domain import LineRequest, rules


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
    price_override_reason = StrictCharField(
        max_length=rules.MAX_REASON_LENGTH,
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

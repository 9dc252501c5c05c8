"""Order-specific REST shapes (the strict field types are ``config.serializers``)."""

from rest_framework import serializers

from config.serializers import StrictIntegerField, StrictRegexField, StrictSerializer
from orders.domain import rules


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
    price_cents = StrictIntegerField(min_value=rules.MIN_PRICE_CENTS, max_value=rules.MAX_PRICE_CENTS)


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

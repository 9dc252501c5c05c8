"""Strict input fields: JSON types are checked, not coerced ("2" is not a
quantity), and unknown fields are refused instead of silently ignored."""

from rest_framework import serializers

from orders.domain import rules


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


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
        help_text="Consistency token: send it as X-Min-Position on a read to see this command's effect."
    )


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI reference naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, keyed by field path.",
    )

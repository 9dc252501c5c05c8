"""REST shapes of the customer's contact and shipping address (personal data)."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from config.serializers import StrictCharField, StrictSerializer
from orders.countries import is_country
from orders.domain import rules
from orders.domain.shipping import Contact, ShippingAddress
from orders.text_fields import email_rule, text_field


def _text(max_length: int, **kwargs) -> StrictCharField:
    return text_field(max_length, personal=True, **kwargs)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ContactSerializer(StrictSerializer):
    name = _text(rules.MAX_NAME_LENGTH)
    email = StrictEmailField(max_length=rules.MAX_EMAIL_LENGTH, validators=[email_rule])

    @staticmethod
    def contact_of(data: dict) -> Contact:
        return Contact.checked(data["name"], data["email"])


_NOT_A_COUNTRY = "Not an ISO 3166-1 alpha-2 country code (e.g. GB, DE, FR)."


class ShippingAddressSerializer(StrictSerializer):
    line1 = _text(rules.MAX_ADDRESS_LINE_LENGTH)
    line2 = _text(rules.MAX_ADDRESS_LINE_LENGTH, required=False, allow_blank=True, allow_null=True)
    postcode = _text(
        rules.MAX_POSTCODE_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Blank for countries without postcodes.",
    )
    city = _text(rules.MAX_CITY_LENGTH)
    country = StrictCharField(
        max_length=2,
        help_text="ISO 3166-1 alpha-2, e.g. GB",
        validators=[RegexValidator(rules.COUNTRY_PATTERN, message=_NOT_A_COUNTRY)],  # (the schema's pattern)
    )

    def validate_country(self, value: str) -> str:
        if not is_country(value):
            raise serializers.ValidationError(_NOT_A_COUNTRY)
        return value

    @staticmethod
    def address_of(data: dict) -> ShippingAddress:
        return ShippingAddress.checked(
            data["line1"], data.get("line2"), data.get("postcode"), data["city"], data["country"]
        )


def details_of(validated: dict) -> dict:
    """The command's contact and shipping_address from validated input with
    both (nothing without them)."""
    if "contact" not in validated:
        return {}
    return {
        "contact": ContactSerializer.contact_of(validated["contact"]),
        "shipping_address": ShippingAddressSerializer.address_of(validated["shipping_address"]),
    }


# -- as the reads answer them (for the OpenAPI schema only: contact_json and
# address_json build the bodies) ---------------------------------------------------------


@extend_schema_serializer(component_name="Contact")
class ContactReadSerializer(serializers.Serializer):
    """The contact an order was given. Once the customer is forgotten both
    fields read "[erased]" (so the email is not always an email address)."""

    name = serializers.CharField()
    email = serializers.CharField()


@extend_schema_serializer(component_name="ShippingAddress")
class ShippingAddressReadSerializer(serializers.Serializer):
    """Where an order goes. Once the customer is forgotten every field but
    the country reads "[erased]"."""

    line1 = serializers.CharField()
    line2 = serializers.CharField(allow_null=True)
    postcode = serializers.CharField(allow_null=True, help_text="null for countries without postcodes")
    city = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2, e.g. GB")


def contact_json(row) -> dict | None:
    """A read model row's contact (None when the order came without one)."""
    if row is None or not (row.name or row.email):
        return None
    return {"name": row.name, "email": row.email}


def address_json(row) -> dict | None:
    if row is None or not row.country:
        return None
    return {
        "line1": row.address_line1,
        "line2": row.address_line2 or None,
        "postcode": row.postcode or None,
        "city": row.city,
        "country": row.country,
    }

"""The customer's contact and shipping address: value objects, checked on
creation. Personal data: the event store keeps them encrypted, and once the
customer is forgotten they read as ``rules.ERASED``."""

from dataclasses import dataclass

from orders.domain import rules


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str

    @classmethod
    def checked(cls, name: object, email: object) -> "Contact":
        return cls(
            rules.check_personal_text("name", name, rules.MAX_NAME_LENGTH, required=True),
            rules.check_email(email),
        )

    @property
    def erased(self) -> bool:
        return rules.ERASED in (self.name, self.email)


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    line1: str
    line2: str | None
    postcode: str | None
    city: str
    country: str

    @classmethod
    def checked(
        cls, line1: object, line2: object, postcode: object, city: object, country: object
    ) -> "ShippingAddress":
        text = rules.check_personal_text
        return cls(
            text("address_line1", line1, rules.MAX_ADDRESS_LINE_LENGTH, required=True),
            text("address_line2", line2, rules.MAX_ADDRESS_LINE_LENGTH, required=False),
            text("postcode", postcode, rules.MAX_POSTCODE_LENGTH, required=False),
            text("city", city, rules.MAX_CITY_LENGTH, required=True),
            rules.check_country(country),
        )

    @property
    def erased(self) -> bool:
        """Forgotten: the warehouse no longer knows where it goes."""
        return rules.ERASED in (self.line1, self.city)

    def to_fields(self) -> dict:
        return {
            "address_line1": self.line1,
            "address_line2": self.line2,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
        }

    @classmethod
    def from_fields(cls, data: dict) -> "ShippingAddress":
        line1, line2, postcode = data["address_line1"], data.get("address_line2"), data.get("postcode")
        return cls(line1, line2, postcode, data["city"], data["country"])

"""Form fields of the customer's contact and shipping address (personal
data), shared by the place-order and change-address forms, and the
confirmation that forgets a customer."""

from django import forms

from orders.countries import country_names
from orders.domain import rules
from orders.domain.events import ShippingDetailsGiven
from orders.domain.shipping import Contact, ShippingAddress


def country_choices() -> list[tuple[str, str]]:
    return [("", "Choose a country"), *((code, name) for code, name in country_names().items())]


class ContactFields(forms.Form):
    name = forms.CharField(label="Name", max_length=rules.MAX_NAME_LENGTH)
    email = forms.EmailField(label="Email", max_length=rules.MAX_EMAIL_LENGTH)

    def contact(self) -> Contact:
        return Contact.checked(self.cleaned_data["name"], self.cleaned_data["email"])


class ShippingAddressFields(forms.Form):
    address_line1 = forms.CharField(label="Address", max_length=rules.MAX_ADDRESS_LINE_LENGTH)
    address_line2 = forms.CharField(
        label="Address, line 2", max_length=rules.MAX_ADDRESS_LINE_LENGTH, required=False
    )
    postcode = forms.CharField(label="Postcode", max_length=rules.MAX_POSTCODE_LENGTH, required=False)
    city = forms.CharField(label="City", max_length=rules.MAX_CITY_LENGTH)
    country = forms.ChoiceField(label="Country", choices=country_choices)

    def shipping_address(self) -> ShippingAddress:
        d = self.cleaned_data
        return ShippingAddress.checked(
            d["address_line1"], d["address_line2"] or None, d["postcode"] or None, d["city"], d["country"]
        )


CONTACT_FIELD_NAMES = tuple(ContactFields.base_fields)
ADDRESS_FIELD_NAMES = tuple(ShippingAddressFields.base_fields)
# The form fields that are personal data: the event's fields marked
# "x-personal" (the country is not), which the forms name alike.
PERSONAL_FIELD_NAMES = frozenset(
    name
    for name, prop in ShippingDetailsGiven.schema["properties"].items()
    if prop.get("x-personal") and name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)
)


class ShippingDetailsForm(ContactFields, ShippingAddressFields):
    """The contact and address fields alone, as the place-order form shows
    them (filled in from a customer's details on file)."""

    def shipping_fields(self):
        return [self[name] for name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)]

    @staticmethod
    def initial_from(details) -> dict:
        """From a customer_details row, whose columns the fields are named after."""
        return {name: getattr(details, name) for name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)}


class ForgetCustomerForm(forms.Form):
    """Forgetting cannot be undone: the customer id is typed again to confirm."""

    confirm = forms.CharField(label="Type the customer id to confirm", max_length=64)

    def __init__(self, customer_id: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer_id = customer_id

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.customer_id:
            raise forms.ValidationError("That is not this customer's id; nothing was erased.")
        return self.cleaned_data["confirm"]

"""Web forms for the order commands. They check the shape of input; the
rules themselves live in the aggregate (its errors come back as form errors).

Every command form carries a one-time key, drawn when the page is rendered:
sent twice (a double click, a reload that resubmits), the command runs once
and the second answer is the first one (the same idempotency machinery as
the API's Idempotency-Key)."""

import uuid

from django import forms
from django.core.validators import RegexValidator

from orders.domain import rules
from orders.idempotency import IdempotencyKey
from orders.shipping_forms import (
    ADDRESS_FIELD_NAMES,
    CONTACT_FIELD_NAMES,
    ContactFields,
    ShippingAddressFields,
)
from projections import selectors

sku_validator = RegexValidator(rules.SKU_PATTERN, "Letters, digits, '-' and '_' (at most 40).")
customer_validator = RegexValidator(rules.CUSTOMER_ID_PATTERN, "Letters, digits and _.:- (at most 64).")

PLACE_ORDER_LINES = 5
form_key_validator = RegexValidator(r"^[0-9a-f]{32}$", "This form is damaged; reload the page.")


def new_form_key() -> str:
    return uuid.uuid4().hex


class OneTimeForm(forms.Form):
    """Carries the form's one-time key (optional: a form posted without one
    simply has no protection against being sent twice)."""

    form_key = forms.CharField(
        widget=forms.HiddenInput, required=False, initial=new_form_key, validators=[form_key_validator]
    )

    def command_data(self) -> dict:
        """What the command was sent with (the key itself aside)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "form_key"}

    def idempotency_key(self, user, path: str) -> IdempotencyKey | None:
        """The form's one-time key as an idempotency key of this user's
        command (None when the form came without one)."""
        key = self.cleaned_data.get("form_key")
        if not key:
            return None
        return IdempotencyKey.for_request(str(user.pk), f"form:{key}", "POST", path, self.command_data())


class VersionedForm(OneTimeForm):
    """Carries the order version the page was rendered at (If-Match)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)


class LineFields(forms.Form):
    sku = forms.CharField(label="SKU", max_length=40, validators=[sku_validator])
    quantity = forms.IntegerField(min_value=rules.MIN_QUANTITY, max_value=rules.MAX_QUANTITY)
    price_cents = forms.IntegerField(
        label="Price (cents)", min_value=rules.MIN_PRICE_CENTS, max_value=rules.MAX_PRICE_CENTS
    )


class AddItemForm(VersionedForm, LineFields):
    pass


class RemoveItemForm(VersionedForm):
    sku = forms.CharField(max_length=40, widget=forms.HiddenInput)


class ShipForm(VersionedForm):
    carrier = forms.CharField(max_length=rules.MAX_CARRIER_LENGTH, required=False)
    tracking_number = forms.CharField(max_length=rules.MAX_TRACKING_LENGTH, required=False)


class CancelForm(VersionedForm):
    reason = forms.CharField(max_length=rules.MAX_REASON_LENGTH, widget=forms.TextInput)


class ChangeAddressForm(VersionedForm, ShippingAddressFields):
    pass


class PlaceOrderForm(OneTimeForm, ContactFields, ShippingAddressFields):
    """A customer, their contact and shipping address, and up to five lines;
    blank lines are ignored."""

    customer_id = forms.CharField(label="Customer", max_length=64, validators=[customer_validator])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(PLACE_ORDER_LINES):
            self.fields[f"sku_{i}"] = forms.CharField(
                label=f"SKU, line {i + 1}", max_length=40, required=False, validators=[sku_validator]
            )
            self.fields[f"quantity_{i}"] = forms.IntegerField(
                label=f"Quantity, line {i + 1}",
                required=False,
                min_value=rules.MIN_QUANTITY,
                max_value=rules.MAX_QUANTITY,
            )
            self.fields[f"price_cents_{i}"] = forms.IntegerField(
                label=f"Price in cents, line {i + 1}",
                required=False,
                min_value=rules.MIN_PRICE_CENTS,
                max_value=rules.MAX_PRICE_CENTS,
            )

    def shipping_fields(self):
        return [self[name] for name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)]

    def line_rows(self):
        return [
            (i + 1, self[f"sku_{i}"], self[f"quantity_{i}"], self[f"price_cents_{i}"])
            for i in range(PLACE_ORDER_LINES)
        ]

    def clean(self):
        data = super().clean()
        lines = []
        for i in range(PLACE_ORDER_LINES):
            values = [data.get(f"sku_{i}"), data.get(f"quantity_{i}"), data.get(f"price_cents_{i}")]
            if all(v in (None, "") for v in values):
                continue
            if any(v in (None, "") for v in values):
                fields = (f"sku_{i}", f"quantity_{i}", f"price_cents_{i}")
                if not any(name in self.errors for name in fields):  # else its own error says why
                    self.add_error(f"sku_{i}", f"Line {i + 1} needs a SKU, a quantity and a price.")
                continue
            lines.append(tuple(values))
        if not lines and not self.errors:
            raise forms.ValidationError("An order needs at least one line.")
        data["lines"] = lines
        return data

    def command_data(self) -> dict:
        data = self.cleaned_data
        details = {name: data[name] for name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)}
        return {"customer_id": data["customer_id"], "lines": data["lines"], **details}


class ReceiveStockForm(OneTimeForm):
    sku = forms.CharField(label="SKU", max_length=40, validators=[sku_validator])
    quantity = forms.IntegerField(min_value=1, max_value=1_000_000)


PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class OrderFilterForm(forms.Form):
    """The order list's filters (also the CSV export's). Customer: the start
    of the customer id, in any case; order id: its first 4+ characters."""

    q = forms.CharField(label="Order id", required=False, max_length=64)
    status = forms.ChoiceField(
        choices=[("", "Any status")] + [(s, s.title()) for s in selectors.STATUSES], required=False
    )
    customer_id = forms.CharField(label="Customer", required=False, max_length=64)
    customer_email = forms.EmailField(label="Customer email", required=False, max_length=254)
    placed_from = forms.DateField(
        label="Placed from (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(
        label="Placed to (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    total_min = forms.DecimalField(
        label="Total from", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    total_max = forms.DecimalField(
        label="Total to", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    ordering = forms.ChoiceField(choices=[(o, o) for o in selectors.ORDERINGS], required=False)
    cursor = forms.CharField(required=False, max_length=500)
    per_page = forms.TypedChoiceField(
        label="Per page", choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False, empty_value=None
    )

    def clean(self):
        data = super().clean()
        if data.get("placed_from") and data.get("placed_to") and data["placed_from"] > data["placed_to"]:
            self.add_error("placed_to", "The end date is before the start date.")
        low, high = data.get("total_min"), data.get("total_max")
        if low is not None and high is not None and low > high:
            self.add_error("total_max", "The upper total is below the lower one.")
        return data

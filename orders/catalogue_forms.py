"""Web forms of the catalogue page. Prices are typed in major units of the
shop currency (19.99) and sent to the commands in minor units (1999)."""

from decimal import Decimal

from django import forms

from config import money
from orders.domain import product, rules
from orders.forms import OneTimeForm, VersionedForm, sku_validator


class PriceField(forms.DecimalField):
    """A price as people type it (19.99), cleaned to minor units (1999)."""

    def __init__(self, **kwargs):
        places = money.precision()
        super().__init__(
            min_value=Decimal(0),
            max_value=money.to_major(rules.MAX_PRICE_CENTS),
            max_digits=12,
            decimal_places=places,
            **kwargs,
        )
        self.widget.attrs.update(step=str(Decimal(1).scaleb(-places)), inputmode="decimal")

    def clean(self, value):
        cleaned = super().clean(value)
        return None if cleaned is None else money.to_minor(cleaned)


class AddProductForm(OneTimeForm):
    sku = forms.CharField(label="SKU", max_length=40, validators=[sku_validator])
    name = forms.CharField(max_length=product.MAX_NAME_LENGTH)
    description = forms.CharField(
        max_length=product.MAX_DESCRIPTION_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    price = PriceField(label="Unit price")


class ProductPriceForm(VersionedForm):
    price = PriceField(label="New unit price")


class ProductRenameForm(VersionedForm):
    name = forms.CharField(max_length=product.MAX_NAME_LENGTH)


class ProductStateForm(VersionedForm):
    """Discontinue or reactivate: nothing but the version it was decided on."""

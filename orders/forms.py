"""Web forms for the order commands. They check the shape of input; the
rules themselves live in the aggregate (its errors come back as form errors).

Every command form carries a one-time key, drawn when the page is rendered:
sent twice (a double click, a reload that resubmits), the command runs once
and the second answer is the first one (the same idempotency machinery as
the API's Idempotency-Key)."""

import re
import uuid

from django import forms
from django.core.validators import RegexValidator

from config.money import format_money
from orders import customer_ids
from orders.domain import LineRequest, rules
from orders.domain.pricing import merged_over_limit
from orders.idempotency import IdempotencyKey
from orders.shipping_forms import (
    ADDRESS_FIELD_NAMES,
    CONTACT_FIELD_NAMES,
    ShippingAddressFields,
    ShippingDetailsForm,
)
from projections import selectors
from projections.order_events import SHIPPING_EVENTS

sku_validator = RegexValidator(rules.SKU_PATTERN, "Letters, digits, '-' and '_' (at most 40).")

customer_validator = RegexValidator(
    rules.CUSTOMER_ID_PATTERN, "Letters a-z and A-Z (no accents), digits and _.:- (at most 64)."
)


def quantity_field(maximum: int = rules.MAX_QUANTITY, **kwargs) -> forms.IntegerField:
    """A number of units, refused in the shop's words (not Django's "Ensure this value ...")."""
    return forms.IntegerField(
        min_value=rules.MIN_QUANTITY,
        max_value=maximum,
        error_messages={
            "min_value": f"The quantity is at least {rules.MIN_QUANTITY}.",
            "max_value": f"The quantity is at most {maximum:,}.",
            "invalid": "The quantity is a whole number.",
        },
        **kwargs,
    )


PLACE_ORDER_LINES = 3  # blank rows a new place-order form starts with
form_key_validator = RegexValidator(r"^[0-9a-f]{32}$", "This form is damaged; reload the page.")


def new_form_key() -> str:
    return uuid.uuid4().hex


def shown_price_fields() -> tuple[forms.IntegerField, forms.CharField]:
    """The unit price (minor units) a form showed for a line and the SKU it
    showed it for, filled in when the page or htmx rendered the product.
    The price is sent as the line's expected price, so a price changed
    meanwhile is refused, not silently charged. Blank (never shown), or shown
    for another SKU than the one sent (the SKU was changed since): the
    catalogue's price, as before."""
    price = forms.IntegerField(
        required=False,
        min_value=rules.MIN_PRICE_CENTS,
        max_value=rules.MAX_PRICE_CENTS,
        widget=forms.HiddenInput,
    )
    return price, forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)


def shown_price(sku: str, price: int | None, shown_for: str | None) -> int | None:
    """The price the form showed for ``sku``, if it showed one (see shown_price_fields)."""
    return price if shown_for == sku else None


def changed_prices(error) -> dict[str, list[int]]:
    """A PriceChangedError (or LineProblems) as kept with a refused form: SKU -> [shown, now]."""
    return {sku: [error.stated[sku], now] for sku, now in error.current.items()}


def price_change_message(sku: str, change: list[int]) -> str:
    shown, now = (format_money(price) for price in change)
    return f"The price of {sku} changed from {shown} to {now}; check and submit again."


class OneTimeForm(forms.Form):
    """Carries the form's one-time key (optional: a form posted without one
    simply has no protection against being sent twice)."""

    form_key = forms.CharField(
        widget=forms.HiddenInput, required=False, initial=new_form_key, validators=[form_key_validator]
    )

    def command_data(self) -> dict:
        """What the command was sent with (the key itself aside)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "form_key"}

    def idempotency_key(self, request) -> IdempotencyKey | None:
        """The form's one-time key as an idempotency key of this user's
        command (None when the form came without one)."""
        key = self.cleaned_data.get("form_key")
        if not key:
            return None
        return IdempotencyKey.for_http(str(request.user.pk), f"form:{key}", request, self.command_data())


class VersionedForm(OneTimeForm):
    """Carries the order version the page was rendered at (If-Match)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=2**31 - 1)


class AddItemForm(VersionedForm):
    """A SKU and a quantity; the price is the catalogue's, and must still be
    the one the form showed (``price``, when it showed one). After a refusal
    for a changed price (``price_changes``) the form shows the new one."""

    sku = forms.CharField(label="SKU", max_length=40, validators=[sku_validator])
    quantity = quantity_field()
    price, price_for = shown_price_fields()

    def __init__(self, *args, price_changes: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.price_changes = price_changes or {}

    def clean(self):
        data = super().clean()
        data["price"] = shown_price(data.get("sku"), data.get("price"), data.get("price_for"))
        return data

    def product_info(self, lines) -> dict:
        """What the form shows of the SKU typed into it (see _add_item_info.html),
        given the order's lines (read model)."""
        sku = (self["sku"].value() or "").strip()
        return add_item_info(sku, lines, self.price_changes)


def add_item_info(sku: str, lines, changes: dict | None = None) -> dict:
    """The add-item form's view of ``sku``: the order's line of it (units
    join it at its price), else the product and the price it is sold at."""
    valid = bool(re.fullmatch(rules.SKU_PATTERN, sku))
    line = next((ln for ln in lines if ln.sku == sku and ln.status == "active"), None)
    product = selectors.product_get(sku) if valid else None
    change = (changes or {}).get(sku)
    price = change[1] if change else product and product.price_cents
    return {"sku": sku, "line": line, "product": product, "price": price, "looked_up": bool(sku)}


class ChangeQuantityForm(VersionedForm):
    sku = forms.CharField(max_length=40, widget=forms.HiddenInput, validators=[sku_validator])
    quantity = quantity_field()


class NoteForm(VersionedForm):
    text = forms.CharField(
        label="Note", max_length=rules.MAX_NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


class RemoveItemForm(VersionedForm):
    sku = forms.CharField(max_length=40, widget=forms.HiddenInput)


class ShipForm(VersionedForm):
    carrier = forms.CharField(max_length=rules.MAX_CARRIER_LENGTH, required=False)
    tracking_number = forms.CharField(max_length=rules.MAX_TRACKING_LENGTH, required=False)


class CancelForm(VersionedForm):
    reason = forms.CharField(max_length=rules.MAX_REASON_LENGTH, widget=forms.TextInput)


class ChangeAddressForm(VersionedForm, ShippingAddressFields):
    # The address the page filled in: whose, as their file was then (orders.erasure_guard).
    details_from = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def starting_from(cls, shipping, version: int, history, on_file: str | None) -> "ChangeAddressForm":
        """The form for an order at ``version`` (its ``history``, the events)
        whose address is ``shipping`` (its order_shipping row, read after
        ``on_file``: orders.prefill's stamp of the customer's erasures, None
        while their file lags behind the last one): filled in with it, so
        that one typo need not mean typing it all again. Not an erased
        address, nor one the row has not caught up with: sent back
        unchanged, it would undo a newer address, or an erasure, without a
        conflict."""
        initial: dict = {"version": version}
        given = [e.version for e in history if e.event_type in SHIPPING_EVENTS and e.version <= version]
        fresh = shipping is not None and given and shipping.version == given[-1]
        if fresh and on_file is not None and not shipping.erased and shipping.address_line1:
            initial |= {name: getattr(shipping, name) for name in ShippingAddressFields.base_fields}
            initial["details_from"] = on_file
        return cls(initial=initial)


_ROW_KEY = re.compile(r"^[A-Za-z0-9]{1,32}$")


class PlaceOrderForm(OneTimeForm, ShippingDetailsForm):
    """A customer, their contact and shipping address, and its lines, each a
    SKU and a quantity (priced from the catalogue); blank lines are ignored.
    Rows are keyed (``sku_<key>``, ``quantity_<key>``, ``price_<key>``: the
    unit price the row showed) so rows can be added and removed in any
    order. Every row says all that is wrong with it, and a line at the top
    which rows those are. After a refusal by the catalogue (orders.line_check)
    the rows also say which SKUs it does not have or no longer sells
    (``refused_skus``) and which prices changed (``price_changes``), and
    show the new prices."""

    customer_id = forms.CharField(label="Customer", max_length=64, validators=[customer_validator])
    # Whose file the contact and address came from (orders.prefill): drawn again with the form.
    details_from = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data=None,
        *args,
        extra_rows: int = 0,
        price_changes: dict | None = None,
        refused_skus: dict | None = None,
        **kwargs,
    ):
        super().__init__(data, *args, **kwargs)
        self.price_changes = price_changes or {}
        self.refused_skus = refused_skus or {}
        source = data if data is not None else self.initial
        keys = [k[4:] for k in source if k.startswith("sku_") and _ROW_KEY.match(k[4:])]
        keys = list(dict.fromkeys(keys))
        if len(keys) > rules.MAX_LINES:  # blank rows make no line: only the filled ones count
            keys = [
                k for k in keys if any(str(source.get(f"{f}_{k}") or "").strip() for f in ("sku", "quantity"))
            ]
        # More filled rows than an order may have are refused (clean) and shown
        # again, every one (Django caps a form's fields), not cut short unsaid.
        self.rows_over = max(0, len(keys) - rules.MAX_LINES)
        keys = keys or [str(i) for i in range(PLACE_ORDER_LINES)]
        keys += [new_form_key()[:8] for _ in range(min(extra_rows, rules.MAX_LINES - len(keys)))]
        self.row_keys = keys
        for key in keys:
            self.fields[f"sku_{key}"] = forms.CharField(
                label="SKU", max_length=40, required=False, validators=[sku_validator]
            )
            self.fields[f"quantity_{key}"] = quantity_field(label="Quantity", required=False)
            self.fields[f"price_{key}"], self.fields[f"price_for_{key}"] = shown_price_fields()

    def clean_customer_id(self) -> str:
        customer_id = self.cleaned_data["customer_id"]
        if (known := customer_ids.spelled_otherwise(customer_id)) is not None:
            raise forms.ValidationError(
                f"There is no customer {customer_id}, but there is {known} (customer ids are "
                f"case-sensitive): did you mean {known}?"
            )
        return customer_id

    def line_rows(self) -> list[dict]:
        """Each row with what it holds and the product its SKU names (read model)."""
        values = {
            key: (self[f"sku_{key}"].value() or "", self[f"quantity_{key}"].value()) for key in self.row_keys
        }
        # Only what can be a SKU is looked up (a NUL byte is no text to the database).
        typed = {sku.strip() for sku, _ in values.values() if sku}
        products = selectors.products_by_sku({sku for sku in typed if re.fullmatch(rules.SKU_PATTERN, sku)})
        rows = []
        for key, (sku, quantity) in values.items():
            # Under the SKU what is about the product; under the quantity, the quantity.
            errors = [*self[f"sku_{key}"].errors, *self[f"price_{key}"].errors]
            product, change = products.get(sku.strip()), self.price_changes.get(sku.strip())
            rows.append(
                {
                    "key": key,
                    "sku": sku,
                    "quantity": "" if quantity is None else quantity,
                    "product": product,
                    "price": change[1] if change else product and product.price_cents,
                    "looked_up": bool(sku),
                    "error": " ".join(errors),
                    "quantity_error": " ".join(self[f"quantity_{key}"].errors),
                }
            )
        return rows

    def clean(self):
        data = super().clean()
        if self.rows_over:
            filled = rules.MAX_LINES + self.rows_over
            raise forms.ValidationError(
                f"An order has at most {rules.MAX_LINES} lines; {filled} were filled in."
            )
        lines, counted, wrong, changed = [], [], set(), False
        for n, key in enumerate(self.row_keys, start=1):
            names = [f"sku_{key}", f"quantity_{key}", f"price_{key}"]
            typed_sku, typed_quantity = (str(self[name].value() or "").strip() for name in names[:2])
            if not typed_sku and not typed_quantity:
                continue
            sku, quantity = data.get(names[0]), data.get(names[1])
            price = shown_price(sku, data.get(names[2]), data.get(f"price_for_{key}"))
            if sku and (refused := self._refusal(sku)):
                self.add_error(names[0], refused)
            if not typed_sku:
                self.add_error(names[0], f"Line {n} needs a SKU.")
            if not typed_quantity:
                self.add_error(names[1], f"Line {n} needs a quantity.")
            if sku and quantity is not None:
                counted.append((n, key, sku, quantity))
            if any(self.has_error(name) for name in names):
                wrong.add(n)
            elif sku and quantity is not None:
                lines.append(LineRequest(sku, quantity, price))
            if sku and (change := self.price_changes.get(sku)):  # the row shows the new price
                self.add_error(names[2], price_change_message(sku, change))
                changed = True
        # Rows of one SKU make one line: together they must fit in one.
        over = merged_over_limit((sku, quantity) for *_, sku, quantity in counted)
        for n, key, sku, _ in counted:
            if sku in over:
                self.add_error(f"sku_{key}", over_limit_message(sku, over[sku]))
                wrong.add(n)
        if wrong or changed:
            self.add_error(None, lines_summary(sorted(wrong), prices_changed=changed))
        elif not lines and not self.errors:
            raise forms.ValidationError("An order needs at least one line.")
        data["lines"] = lines
        return data

    def _refusal(self, sku: str) -> str | None:
        """What the catalogue said of ``sku`` when it refused the form."""
        if sku in self.refused_skus.get("unknown", ()):
            return unknown_sku_message(sku)
        if sku in self.refused_skus.get("discontinued", ()):
            return discontinued_message(sku)
        return None

    def lines_to_check(self) -> list[tuple[str, int | None]]:
        """Each row's SKU (of the rows with a well-formed one) and the price
        it showed: what to ask the catalogue of a form refused before the
        command could run (see orders.line_check)."""
        data = getattr(self, "cleaned_data", {})
        return [
            (sku, shown_price(sku, data.get(f"price_{key}"), data.get(f"price_for_{key}")))
            for key in self.row_keys
            if (sku := data.get(f"sku_{key}"))
        ]

    def command_data(self) -> dict:
        data = self.cleaned_data
        details = {name: data[name] for name in (*CONTACT_FIELD_NAMES, *ADDRESS_FIELD_NAMES)}
        lines = [(line.sku, line.quantity, line.price_cents) for line in data["lines"]]
        return {"customer_id": data["customer_id"], "lines": lines, **details}


def over_limit_message(sku: str, total: int) -> str:
    return (
        f"{sku} is on more than one line, {total:,} units in all; "
        f"its lines are joined into one, of at most {rules.MAX_QUANTITY:,}."
    )


def lines_summary(lines: list[int], prices_changed: bool) -> str:
    """The line at the top of a refused place-order form: which rows to correct."""
    parts = ["prices changed since this form was shown"] if prices_changed else []
    if lines:
        named = " and ".join(filter(None, [", ".join(map(str, lines[:-1])), str(lines[-1])]))
        parts.append(f"lines {named} need correcting" if len(lines) > 1 else f"line {named} needs correcting")
    said = " and ".join(parts)
    return f"{said[0].upper()}{said[1:]}; nothing was placed."


def unknown_sku_message(sku: str) -> str:
    return f"SKU {sku} is not in the catalogue{did_you_mean(sku)}"


def did_you_mean(sku: str) -> str:
    """The catalogue's SKU a typed one was probably meant to be (in another
    case, or a letter off), offered (the products read model), to end the
    sentence saying it is not in the catalogue."""
    meant = selectors.product_sku_like(sku)
    return f"; did you mean {meant}?" if meant else "."


class ReceiveStockForm(OneTimeForm):
    sku = forms.CharField(label="SKU", max_length=40, validators=[sku_validator])
    quantity = quantity_field(maximum=1_000_000)


def discontinued_message(sku: str) -> str:
    return f"{sku} is no longer sold (discontinued)."

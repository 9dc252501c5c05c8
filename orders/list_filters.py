"""The order list's filter form (also the CSV export's)."""

from django import forms

from projections import selectors

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

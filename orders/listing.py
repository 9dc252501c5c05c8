"""The order list's query, read from the page's filter form: shared by the
list page and its CSV export, so both select the same orders."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.utils import timezone

from eventstore import EventStore
from orders.list_filters import DEFAULT_PAGE_SIZE, OrderFilterForm
from projections import selectors

MIN_ID_PREFIX = 4

# What the previous and next page links lead to, by ordering.
PAGE_LINKS = {
    "-placed_at": ("Newer orders", "Older orders"),
    "placed_at": ("Older orders", "Newer orders"),
    "-total": ("Higher totals", "Lower totals"),
    "total": ("Lower totals", "Higher totals"),
}


@dataclass
class ListQuery:
    """What the filter form asked for. ``valid`` False: show its errors and
    no list. ``jump_to``: the search named one order; go to its page.
    ``notes``: what the page should tell the user about the search."""

    form: OrderFilterForm
    valid: bool = True
    filters: selectors.OrderFilters = field(default_factory=selectors.OrderFilters)
    ordering: str = "-placed_at"
    cursor: str | None = None
    per_page: int = DEFAULT_PAGE_SIZE
    jump_to: UUID | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def page_links(self) -> tuple[str, str]:
        return PAGE_LINKS[self.ordering]


def _day_start(day) -> datetime | None:
    try:
        start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
        start.astimezone(UTC)  # the first days of the calendar cannot be moved east of UTC
    except OverflowError:
        return None
    return start


def _day_end(day) -> datetime | None:
    """The start of the day after ``day`` (None: no end, for the last day there is)."""
    try:
        return _day_start(day + timedelta(days=1))
    except OverflowError:
        return None


# The list of a search that found nothing is empty (and so is its CSV
# export), not every order.
_NO_ORDER = selectors.OrderFilters(nothing=True)


def _search(query: ListQuery, text: str, *, jump: bool) -> selectors.OrderFilters | None:
    """The order-id search: a full id, or its first 4+ hex digits. Returns
    the filter narrowing the list to matching ids (None: no narrowing, for a
    prefix too short to search with), and sets ``jump_to`` when exactly one
    order matches and ``jump`` allows it."""
    text = text.strip()
    try:
        order_id = UUID(text)
    except ValueError:
        pass
    else:  # in the read model, or only just placed (in the primary's log, not yet projected)
        if selectors.order_summary(order_id) or EventStore(using="default").stream_version(order_id):
            query.jump_to = order_id if jump else None
            return selectors.OrderFilters(order_id_prefix=order_id.hex)
        query.notes.append(f"No order found for “{text}”.")
        return _NO_ORDER
    digits = text.replace("-", "").lower()
    span = selectors.id_prefix_range(digits)
    if span is None:
        query.notes.append(f"No order found for “{text}”.")
        return _NO_ORDER
    if len(digits) < MIN_ID_PREFIX:
        query.notes.append(f"Type at least the first {MIN_ID_PREFIX} characters of the order id.")
        return None
    found = selectors.order_ids_between(*span, limit=2)
    if not found:
        query.notes.append(f"No order found for “{text}”.")
        return _NO_ORDER
    if len(found) == 1 and jump:
        query.jump_to = found[0]
    return selectors.OrderFilters(order_id_prefix=digits)


def list_query(params, *, jump: bool = True) -> ListQuery:
    """Read the list's filters from ``params`` (the request's GET)."""
    form = OrderFilterForm(params or None)
    query = ListQuery(form)
    if not form.is_bound:
        return query
    if not form.is_valid():
        query.valid = False
        return query
    data = form.cleaned_data
    narrowed = _search(query, data["q"], jump=jump) if data["q"] else None
    query.filters = selectors.OrderFilters(
        nothing=narrowed is not None and narrowed.nothing,
        status=data["status"] or None,
        customer_prefix=data["customer_id"].strip() or None,
        order_id_prefix=narrowed.order_id_prefix if narrowed else None,
        placed_from=_day_start(data["placed_from"]) if data["placed_from"] else None,
        placed_to=_day_end(data["placed_to"]) if data["placed_to"] else None,
        total_min=int(data["total_min"] * 100) if data["total_min"] is not None else None,
        total_max=int(data["total_max"] * 100) if data["total_max"] is not None else None,
        email_hash=selectors.email_lookup(data["customer_email"]) if data["customer_email"] else None,
    )
    query.ordering = data["ordering"] or query.ordering
    query.cursor = data["cursor"] or None
    query.per_page = data["per_page"] or DEFAULT_PAGE_SIZE
    return query

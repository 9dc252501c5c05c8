"""The order read models built from the log in SQL, for set-based rebuilds
(projections/set_based.py): the folds of order_projections.py as
statements over the events table. tests/integration/projections/
test_set_based_rebuild.py holds them equal to the Python folds over varied
histories; change one, change the other.

Statements read the events of the cut (``%(tx)s``, ``%(pos)s``) of the
projection's types (``%(types)s``: the order streams' events, the same for
the three read models, which share ``{order_facts}``) in the slice of the
streams (``%(lo)s`` to ``%(hi)s``); table names are the shadow tables'.

The SQL leans on what the order aggregate guarantees of a stream: it
starts with OrderPlaced, versions follow on, it ships or is cancelled at
most once and changes no line after, and each event's order total is the
last one's plus or minus what it changed (so a line rejected for stock
takes its quantity times its price off). ``CHECK`` hands a log that breaks
the first three to the Python fold. ``VERSIONS`` are the schema versions
the SQL reads events at: a new version or event type leaves it unused until
it is changed too (tests/unit/test_set_based_versions.py).
"""

from projections.order_events import LINE_CHANGES

# The cut, the projection's types, and the slice of the streams.
_CUT = (
    "(tx_id, position) <= (%(tx)s, %(pos)s) AND event_type = ANY(%(types)s)"
    " AND aggregate_id BETWEEN %(lo)s AND %(hi)s"
)
# The schema versions of the order events this SQL reads, every one so far:
# the upcasters only add fields (requires_confirmation, false before v2 of
# OrderPlaced; a line's catalogue price and override reason, null before v3
# of OrderPlaced and v2 of ItemAdded), which the SQL reads as missing.
VERSIONS = {
    "OrderPlaced": (1, 2, 3),
    "ItemAdded": (1, 2),
    "ItemRemoved": (1,),
    "LineQuantityChanged": (1,),
    "LineRejected": (1,),
    "OrderConfirmed": (1,),
    "OrderShipped": (1,),
    "OrderCancelled": (1,),
    "NoteAdded": (1,),
    "ShippingDetailsGiven": (1,),
    "ShippingAddressChanged": (1,),
}
_NOT_REPLAYED = "NOT EXISTS (SELECT 1 FROM rebuild_replay r WHERE r.id = events.aggregate_id)"


def _listed(names) -> str:
    """Names as an SQL list of strings."""
    return ", ".join(f"'{name}'" for name in sorted(names))


_LINE_CHANGES = f"({_listed(LINE_CHANGES)})"
# The events that set an order's status, and the status each sets.
_STATUS_EVENTS = {
    "OrderPlaced": "placed",
    "OrderConfirmed": "confirmed",
    "OrderShipped": "shipped",
    "OrderCancelled": "cancelled",
}
_STATUSES = "(" + ", ".join(f"'{t}'" for t in _STATUS_EVENTS) + ")"
_STATUS_OF = "ARRAY[" + ", ".join(f"'{t}'" for t in _STATUS_EVENTS) + "]"
_STATUS_NAMES = "(ARRAY[" + ", ".join(f"'{name}'" for name in _STATUS_EVENTS.values()) + "])"


def _is(event_type: str) -> str:
    return f"FILTER (WHERE event_type = '{event_type}')"


def _latest(value: str, where: str = "TRUE") -> str:
    """``value`` (a bigint) at the stream's highest version where ``where``."""
    return f"(MAX(ARRAY[version::bigint, {value}]) FILTER (WHERE {where}))[2]"


# One row per order: what every order read model needs to know of it.
# Times of the last event travel as microseconds (exact both ways).
FACTS = f"""
SELECT aggregate_id AS oid, COUNT(*) AS events, MIN(version) AS first_v, MAX(version) AS version,
       COUNT(*) {_is("OrderPlaced")} AS placed, MIN(version) {_is("OrderPlaced")} AS placed_v,
       COUNT(*) {_is("OrderShipped")} AS shipped, COUNT(*) {_is("OrderCancelled")} AS cancelled,
       MAX(version) FILTER (WHERE event_type IN {_LINE_CHANGES}) AS changed_v,
       MIN(version) FILTER (WHERE event_type IN ('OrderShipped', 'OrderCancelled')) AS closed_v,
       MAX(event_data->>'customer_id') {_is("OrderPlaced")} AS customer_id,
       COALESCE(BOOL_OR((event_data->>'requires_confirmation')::boolean) {_is("OrderPlaced")}, FALSE)
           AS confirm,
       MAX((event_data->>'total_cents')::bigint) {_is("OrderPlaced")} AS placed_total,
       COALESCE({_latest("(event_data->>'order_total_cents')::bigint", f"event_type IN {_LINE_CHANGES}")},
                MAX((event_data->>'total_cents')::bigint) {_is("OrderPlaced")}) AS total,
       MIN(created_at) {_is("OrderPlaced")} AS placed_at,
       MAX(created_at) {_is("OrderShipped")} AS shipped_at,
       MAX(COALESCE(event_data->>'carrier', '')) {_is("OrderShipped")} AS carrier,
       MAX(COALESCE(event_data->>'tracking_number', '')) {_is("OrderShipped")} AS tracking,
       MAX(created_at) {_is("OrderCancelled")} AS cancelled_at,
       MAX(event_data->>'reason') {_is("OrderCancelled")} AS cancel_reason,
       {_latest("position")} AS last_position,
       {_latest("(EXTRACT(EPOCH FROM created_at) * 1000000)::bigint")} AS updated_us,
       {_latest(f"array_position({_STATUS_OF}, event_type::text)", f"event_type IN {_STATUSES}")} AS status,
       MAX(version) FILTER (WHERE event_type IN {_STATUSES}) AS status_v,
       -- an addition, or a larger quantity, waits for stock (when the order does)
       MAX(version) FILTER (WHERE event_type = 'ItemAdded' OR (event_type = 'LineQuantityChanged'
           AND (event_data->>'quantity')::bigint > (event_data->>'old_quantity')::bigint)) AS waits_v
FROM events WHERE {_CUT} GROUP BY aggregate_id
"""

SHARED = (("order_facts", FACTS),)

CHECK = (
    "SELECT oid FROM {order_facts} WHERE placed <> 1 OR placed_v <> 1 OR first_v <> 1"
    " OR events <> version OR shipped + cancelled > 1 OR changed_v > closed_v LIMIT 1"
)

CUSTOMER_ORDERS = """INSERT INTO {customer_orders} (order_id, customer_id, status, total_cents, version)
    SELECT oid, customer_id,
           CASE WHEN shipped > 0 THEN 'shipped' WHEN cancelled > 0 THEN 'cancelled' ELSE 'placed' END,
           total, version
    FROM {order_facts} WHERE oid BETWEEN %(lo)s AND %(hi)s"""

CUSTOMER_SUMMARY = """INSERT INTO {customer_summary} (customer_id, orders_placed, orders_open,
        orders_shipped, orders_cancelled, lifetime_total_cents, first_order_at, last_order_at)
    SELECT customer_id, COUNT(*), COUNT(*) - SUM(shipped) - SUM(cancelled), SUM(shipped), SUM(cancelled),
           COALESCE(SUM(total) FILTER (WHERE cancelled = 0), 0), MIN(placed_at), MAX(placed_at)
    FROM {order_facts} GROUP BY customer_id"""

_DAY = "((%s) AT TIME ZONE 'UTC')::date"
SALES_ORDERS = """INSERT INTO {sales_orders} (order_id, total_cents, version)
    SELECT oid, total, version FROM {order_facts} WHERE oid BETWEEN %(lo)s AND %(hi)s"""

# A day has a row once an order was placed, shipped or cancelled on it, or
# lost a line to stock; booked value is net of lines lost that day.
DAILY_SALES = f"""INSERT INTO {{daily_sales}} (day, orders_placed, orders_shipped, orders_cancelled,
        booked_cents, revenue_cents)
    SELECT day, SUM(placed), SUM(shipped), SUM(cancelled), SUM(booked), SUM(revenue) FROM (
        SELECT {_DAY % "placed_at"} AS day, 1 AS placed, 0 AS shipped, 0 AS cancelled,
               placed_total AS booked, 0 AS revenue FROM {{order_facts}}
        UNION ALL
        SELECT {_DAY % "shipped_at"}, 0, 1, 0, 0, total FROM {{order_facts}} WHERE shipped > 0
        UNION ALL
        SELECT {_DAY % "cancelled_at"}, 0, 0, 1, 0, 0 FROM {{order_facts}} WHERE cancelled > 0
        UNION ALL
        SELECT {_DAY % "created_at"}, 0, 0, 0,
               -(event_data->>'quantity')::bigint * (event_data->>'price_cents')::bigint, 0
        FROM events WHERE {_CUT} AND event_type = 'LineRejected'
    ) x GROUP BY day"""

# order_list's streams whose line numbers the SQL below would get wrong: a
# new line gets the number after the highest on the order, so once a line
# was removed a later one may take a number again. The Python fold replays
# these streams (a superset: any removal before any addition).
ORDER_LIST_REPLAY = f"""
SELECT aggregate_id FROM events WHERE {_CUT} AND event_type IN ('ItemRemoved', 'ItemAdded')
GROUP BY aggregate_id
HAVING MIN(version) FILTER (WHERE event_type = 'ItemRemoved')
     < MAX(version) FILTER (WHERE event_type = 'ItemAdded')
"""

# Every line event: a line of OrderPlaced (P), ItemAdded (A), ItemRemoved
# (X), LineQuantityChanged (Q), LineRejected (R), per order and SKU in
# order. A line starts at P, or at an A on a SKU with no line or a line
# rejected whole (``inc`` counts the SKU's starts); a start, a Q or an R
# sets the quantity (``setter`` counts those) and an A that is not a start
# adds to it (``added``, running). ``rejected`` runs over the R quantities;
# ``started`` counts the lines started on the order so far.
_LINE_EVENTS = f"""
WITH le AS (
    SELECT e.aggregate_id AS oid, e.version AS v, COALESCE(i.n, 0) AS n,
           CASE e.event_type WHEN 'OrderPlaced' THEN 'P' WHEN 'ItemAdded' THEN 'A'
                WHEN 'ItemRemoved' THEN 'X' WHEN 'LineQuantityChanged' THEN 'Q' ELSE 'R' END AS kind,
           COALESCE(i.item, e.event_data)->>'sku' AS sku,
           (COALESCE(i.item, e.event_data)->>'quantity')::int AS qty,
           (e.event_data->>'remaining_quantity')::int AS rem,
           (COALESCE(i.item, e.event_data)->>'price_cents')::bigint AS price,
           (COALESCE(i.item, e.event_data)->>'catalogue_price_cents')::bigint AS catalogue,
           COALESCE(i.item, e.event_data)->>'override_reason' AS override,
           e.event_data->>'reason' AS reason
    FROM events e LEFT JOIN LATERAL jsonb_array_elements(
        CASE WHEN e.event_type = 'OrderPlaced' THEN e.event_data->'items' END
    ) WITH ORDINALITY AS i(item, n) ON TRUE
    WHERE {_CUT} AND e.event_type IN ('OrderPlaced', {_LINE_CHANGES[1:-1]})
      AND {_NOT_REPLAYED.replace("events.", "e.")}
), st AS (
    SELECT *, kind = 'P' OR (kind = 'A' AND (prev_kind IS NULL OR prev_kind = 'X'
              OR (prev_kind = 'R' AND prev_rem = 0))) AS is_start
    FROM (
        SELECT *, LAG(kind) OVER s AS prev_kind, LAG(rem) OVER s AS prev_rem, LEAD(v) OVER s AS next_v
        FROM le WINDOW s AS (PARTITION BY oid, sku ORDER BY v, n)
    ) w
), nums AS (
    SELECT *, COUNT(*) FILTER (WHERE is_start) OVER s AS inc,
           COUNT(*) FILTER (WHERE is_start OR kind IN ('Q', 'R')) OVER s AS setter,
           COALESCE(SUM(qty) FILTER (WHERE kind = 'A' AND NOT is_start) OVER s, 0) AS added,
           COALESCE(SUM(qty) FILTER (WHERE kind = 'R') OVER s, 0) AS rejected
    FROM st WINDOW s AS (PARTITION BY oid, sku ORDER BY v, n)
)
SELECT *, COUNT(*) FILTER (WHERE is_start) OVER (PARTITION BY oid ORDER BY v, n) AS started FROM nums
"""


def _last(values: str, where: str) -> str:
    """``ARRAY[values]`` of the SKU's row, among those ``where``, of its last
    line (``inc``) and, in it, the last event."""
    return f"MAX(ARRAY[inc, v, n, {values}]) FILTER (WHERE {where})"


def _last_text(value: str, where: str) -> str:
    """As ``_last`` for a text: keyed by the line, event and item numbers."""
    key = "lpad(inc::text, 10, '0') || lpad(v::text, 10, '0') || lpad(n::text, 6, '0')"
    return f"MAX({key} || COALESCE({value}, '') COLLATE \"C\") FILTER (WHERE {where})"


ORDER_LIST = (
    # Each SKU's last line, unless it was removed; a line is numbered by
    # the lines started on the order up to it (``started``: no line was
    # removed before a later one started, or the stream is replayed).
    # Values of the last line's rejections count only if they are its own.
    f"""INSERT INTO {{order_lines}} (order_id, sku, quantity, price_cents, line_total_cents, line_no,
        status, rejected_quantity, rejection_reason, catalogue_price_cents, override_reason)
    SELECT oid, sku, setter[4] + added - setter[5], priced[4], (setter[4] + added - setter[5]) * priced[4],
           start[4], CASE WHEN last_r[1] = last_inc AND last_r[4] = 0 THEN 'rejected' ELSE 'active' END,
           rejected - start[5],
           CASE WHEN substr(reason, 1, 10)::bigint = last_inc THEN substr(reason, 27) ELSE '' END,
           priced[5], substr(override, 27)
    FROM (
        SELECT oid, sku, MAX(inc) AS last_inc, MAX(added) AS added, MAX(rejected) AS rejected,
               {_last("CASE kind WHEN 'R' THEN rem ELSE qty END, added", "is_start OR kind IN ('Q', 'R')")}
                   AS setter,
               {_last("price, catalogue", "kind IN ('P', 'A')")} AS priced,
               {_last("started, rejected", "is_start")} AS start,
               {_last("rem", "kind = 'R'")} AS last_r,
               {_last_text("reason", "kind = 'R'")} AS reason,
               {_last_text("override", "kind IN ('P', 'A')")} AS override,
               BOOL_OR(kind = 'X' AND next_v IS NULL) AS removed
        FROM ({_LINE_EVENTS}) x GROUP BY oid, sku
    ) lines WHERE NOT removed""",
    f"""INSERT INTO {{order_list}} (order_id, customer_id, status, line_count, item_count, total_cents,
        placed_at, shipped_at, cancelled_at, cancel_reason, carrier, tracking_number, requires_confirmation,
        version, last_position, updated_at)
    SELECT f.oid, f.customer_id,
           CASE WHEN f.confirm AND f.waits_v > f.status_v THEN 'placed'
                ELSE {_STATUS_NAMES}[f.status::int] END,
           COALESCE(l.line_count, 0), COALESCE(l.item_count, 0), f.total, f.placed_at, f.shipped_at,
           f.cancelled_at, COALESCE(f.cancel_reason, ''), COALESCE(f.carrier, ''), COALESCE(f.tracking, ''),
           f.confirm, f.version, f.last_position,
           TIMESTAMPTZ 'epoch' + f.updated_us * INTERVAL '1 microsecond'
    FROM {{order_facts}} f LEFT JOIN (
        SELECT order_id, COUNT(*) FILTER (WHERE status = 'active') AS line_count, SUM(quantity) AS item_count
        FROM {{order_lines}} WHERE order_id BETWEEN %(lo)s AND %(hi)s GROUP BY order_id
    ) l ON l.order_id = f.oid
    WHERE f.oid BETWEEN %(lo)s AND %(hi)s
      AND NOT EXISTS (SELECT 1 FROM rebuild_replay r WHERE r.id = f.oid)""",
)

"""The new page filters stay index-friendly on PostgreSQL at any size: the
order list's customer prefix (lower(customer_id) LIKE 'abc%') and finding a
stream by the SKU in its first event (the audit trail)."""

import pytest
from django.db import connection, transaction

from eventstore.labels import first_events_labelled
from projections import selectors
from projections.models import OrderSummary

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def plan(qs) -> str:
    """The plan PostgreSQL would pick if a table scan were never cheaper
    (the test tables are tiny, so it always would be)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return qs.explain()


def test_the_customer_prefix_filter_uses_the_lower_case_prefix_index():
    qs = (
        selectors.OrderFilters(customer_prefix="Cust_1")
        .apply(OrderSummary.objects.all())
        .order_by("-placed_at")
    )

    found = plan(qs[:51])

    assert "order_list_customer_lower_idx" in found
    assert "~>=~ 'cust_1'" in found  # a range scan on the prefix, in lower case


def test_finding_a_stream_by_its_sku_uses_the_label_index():
    found = plan(first_events_labelled("widget-a").values("aggregate_id"))

    assert "events_stream_label_idx" in found

"""The read side's scrape-time metrics (one of config.metrics.collectors):
where each projection stands, read from the database when Prometheus
scrapes (a few indexed queries), so every web process gives the same answer
and nothing is paid per event."""

from django.db import connections
from prometheus_client.core import GaugeMetricFamily

from projections.base import registry
from projections.health import judge
from projections.metrics import LABELS, rebuilds_running
from projections.models import OrderSummary
from projections.status import status


class ReadSideCollector:
    name = "projections"

    def __init__(self, using: str = "default"):
        self.using = using

    def describe(self):
        return []

    def collect(self):
        rows = status(self.using)
        gauges = {
            "position": GaugeMetricFamily(
                "projection_position", "Position of the last event the projection has passed", labels=LABELS
            ),
            "lag_events": GaugeMetricFamily(
                "projection_lag_events",
                "Events waiting for the projection (counted up to 100,000)",
                labels=LABELS,
            ),
            "lag_seconds": GaugeMetricFamily(
                "projection_lag_seconds",
                "How long the next event for the projection has waited",
                labels=LABELS,
            ),
            "held": GaugeMetricFamily(
                "projection_failures_held",
                "1 while the projection is held at an event it failed on MAX_ATTEMPTS times",
                labels=LABELS,
            ),
            "retrying": GaugeMetricFamily(
                "projection_failures_retrying",
                "1 while the projection is backing off before trying a failed event again",
                labels=LABELS,
            ),
        }
        for row in rows:
            series = [row["projection"], row["partition"]]
            gauges["position"].add_metric(series, row["checkpoint"]["position"])
            gauges["lag_events"].add_metric(series, row["lag_events"])
            gauges["lag_seconds"].add_metric(series, row["lag_seconds"])
            gauges["held"].add_metric(series, int(row["state"] == "held"))
            gauges["retrying"].add_metric(series, int(row["state"] == "retrying"))
        yield from gauges.values()
        yield GaugeMetricFamily(
            "projections_ready",
            "1 when no projection is held and none lags over PROJECTION_LAG_ALERT_SECONDS (as /readyz)",
            value=int(judge(rows).ready),
        )
        yield GaugeMetricFamily(
            "orders_awaiting_stock",
            "Orders placed that wait for the fulfilment process to reserve their stock (order_list)",
            value=OrderSummary.objects.using(self.using)
            .filter(status="placed", requires_confirmation=True)
            .count(),
        )
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(position), 0) FROM events")
            head = cursor.fetchone()[0]
        yield GaugeMetricFamily("eventstore_last_position", "Position of the last event appended", value=head)
        yield from self._rebuilds()

    def _rebuilds(self):
        done = GaugeMetricFamily(
            "projection_rebuild_events_done", "Events a running rebuild has replayed", labels=["projection"]
        )
        total = GaugeMetricFamily(
            "projection_rebuild_events_expected",
            "Events a running rebuild has to replay",
            labels=["projection"],
        )
        for name, progress in sorted(rebuilds_running([p.name for p in registry.projections()]).items()):
            done.add_metric([name], progress["done"])
            total.add_metric([name], progress["total"])
        yield done
        yield total

"""``python manage.py metrics_exporter``: serve this host's Prometheus
multiprocess files on a port of its own.

On a machine that runs Celery workers but no web process, nothing would
otherwise serve their metrics (the files of PROMETHEUS_MULTIPROC_DIR are
per host). It serves what the processes counted, not the scrape-time gauges
read from the database (any web process's /metrics has those). It has no
authentication: bind it to an address only Prometheus reaches.
"""

import os
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve this host's Prometheus multiprocess metrics (for hosts that run only Celery workers)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=9808, help="port to listen on (default 9808)")

    def handle(self, *args, bind: str, port: int, **options):
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise CommandError(
                "set PROMETHEUS_MULTIPROC_DIR to where this host's workers write their metrics"
            )
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        server, _ = start_http_server(port, addr=bind, registry=registry)
        self.stdout.write(f"serving {os.environ['PROMETHEUS_MULTIPROC_DIR']} at http://{bind}:{port}/metrics")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.shutdown()

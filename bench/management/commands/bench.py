"""``python manage.py bench SUITE [--json]``: run a benchmark suite.

Progress goes to stderr; the last line of stdout is one JSON object with the
figures (``--json``) or a readable table otherwise.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from bench.support import SUITES


class Command(BaseCommand):
    help = "Run a benchmark suite (see BENCHMARKS in the README) in a database of its own."

    def add_arguments(self, parser):
        parser.add_argument("suite", help="suite name, e.g. eventstore")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--no-raw", action="store_true", help="skip the plain-psycopg baselines")
        parser.add_argument(
            "--scale", type=float, default=1.0, help="multiply workload sizes (for a quick run)"
        )
        parser.add_argument("--events", type=int, help="projections: events in the log (default 100,000)")
        parser.add_argument("--jobs", type=int, help="projections: rebuild processes (default: one per core)")
        parser.add_argument(
            "--live", action="store_true", help="projections: the live path too past 200k events"
        )
        parser.add_argument("--rounds", type=int, help="http: alternating event-sourced/CRUD rounds (3)")
        parser.add_argument("--clients", type=int, help="http: client processes (4)")
        parser.add_argument("--soak", type=float, help="http: also run the load this many seconds")
        parser.add_argument(
            "--no-reservation", action="store_true", help="http: skip the phase with stock reservation on"
        )

    def handle(self, *args, **options):
        suite = SUITES.get(options["suite"])
        if suite is None:
            raise CommandError(f"unknown suite {options['suite']!r}; known: {', '.join(sorted(SUITES))}")
        result = suite(options)
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            width = max(map(len, result))
            for key, value in result.items():
                self.stdout.write(f"{key:<{width}}  {value}")

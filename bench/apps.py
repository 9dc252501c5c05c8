from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Benchmarks"

    def ready(self) -> None:
        from bench import (
            suite_commands,
            suite_eventstore,
            suite_http,
            suite_pages,
            suite_projections,
            suite_scale,
        )
        from bench.support import register_suite

        register_suite("eventstore", suite_eventstore.run)
        register_suite("projections", suite_projections.run)
        register_suite("commands", suite_commands.run)
        register_suite("http", suite_http.run)
        register_suite("pages", suite_pages.run)
        register_suite("scale", suite_scale.run)

from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import health, heap, metrics
        from eventstore import hooks
        from projections import inline, nudge
        from projections.base import registry
        from projections.collector import ReadSideCollector
        from projections.health import readiness_check
        from projections.order_projections import ORDER_PROJECTIONS
        from projections.shipping_projections import SHIPPING_PROJECTIONS

        for projection in (*ORDER_PROJECTIONS, *SHIPPING_PROJECTIONS):
            registry.register(projection)
        # A wrong PROJECTION_PARTITIONS or PROJECTION_CONSISTENCY stops the
        # process here (ImproperlyConfigured), not each request later.
        registry.partition_counts()
        registry.check_consistency()
        hooks.commit_listeners.append(nudge.nudge)
        metrics.install()
        metrics.collectors.append(ReadSideCollector())
        health.readiness_checks["projections"] = readiness_check
        if registry.inline():
            hooks.append_listeners.append(inline.apply_inline)
        # The last app to be ready: what the apps have loaded stays for the
        # process's life, out of the garbage collector's way (config.heap).
        heap.freeze()

from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eventstore import hooks
        from projections import inline, nudge
        from projections.base import registry
        from projections.order_projections import ORDER_PROJECTIONS
        from projections.shipping_projections import SHIPPING_PROJECTIONS

        for projection in (*ORDER_PROJECTIONS, *SHIPPING_PROJECTIONS):
            registry.register(projection)
        hooks.commit_listeners.append(nudge.nudge)
        if registry.inline():
            hooks.append_listeners.append(inline.apply_inline)

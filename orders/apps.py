from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import rest
        from eventstore import bench
        from orders import benchmarks, catalog, errors

        catalog.register_order_events()
        rest.ERROR_MAPPERS.append(errors.order_problem)
        bench.register_suite("commands", benchmarks.run)
